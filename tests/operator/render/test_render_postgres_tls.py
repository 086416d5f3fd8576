"""The managed database's TLS as rendered: the certificates the operator issues, who mounts
which of their files, and the URL the agent's pods build from the generated Secret."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509

from ragagent_operator.render import postgres, postgres_front, postgres_tls, secrets
from ragagent_operator.render.common import Agent, build_agent
from ragagent_operator.steps import postgres_tls as tls_step
from tests.operator.render.pods import rendered_pods

NOW = datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)


def make_agent(name: str = "docs", namespace: str = "team", **spec: Any) -> Agent:
    body = {"metadata": {"name": name, "namespace": namespace, "uid": "u-1"},
            "spec": {"database": {"managed": {}}, "backup": {"enabled": True}, **spec}}  # fmt: skip
    return build_agent(body, default_image="ragagent:test")


def certificate(values: dict[str, bytes], key: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(values[key])


def san_names(cert: x509.Certificate) -> list[str]:
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return names.get_values_for_type(x509.DNSName)


def test_the_server_certificate_names_the_service_the_url_points_at() -> None:
    agent = make_agent()
    values = postgres_tls.build_tls_values(agent, {}, now=NOW)
    server = certificate(values, postgres_tls.KEY_TLS_CERT)
    url_host = urlsplit(postgres.build_database_url(agent, "pw")).hostname
    assert url_host in san_names(server)
    service = postgres.build_postgres_service(agent)["metadata"]
    assert san_names(server) == [
        service["name"], f"{service['name']}.team", f"{service['name']}.team.svc",
        f"{service['name']}.team.svc.cluster.local",
    ]  # fmt: skip
    server.verify_directly_issued_by(certificate(values, postgres_tls.KEY_CA_CERT))


def test_names_longer_than_a_common_name_still_get_a_certificate() -> None:
    agent = make_agent("a" * 40, namespace="n" * 63)
    values = postgres_tls.build_tls_values(agent, {}, now=NOW)
    server = certificate(values, postgres_tls.KEY_TLS_CERT)
    assert f"{'a' * 40}-postgres.{'n' * 63}.svc" in san_names(server)


def test_the_ca_signs_server_certificates_only() -> None:
    values = postgres_tls.build_tls_values(make_agent(), {}, now=NOW)
    ca = certificate(values, postgres_tls.KEY_CA_CERT)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca
    assert constraints.path_length == 0
    server = certificate(values, postgres_tls.KEY_TLS_CERT)
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_good_material_is_kept_so_a_resync_writes_nothing() -> None:
    agent = make_agent()
    values = postgres_tls.build_tls_values(agent, {}, now=NOW)
    assert postgres_tls.build_tls_values(agent, values, now=NOW + 300 * DAY) == values


def test_the_server_certificate_is_renewed_under_the_same_ca_before_it_expires() -> None:
    agent = make_agent()
    values = postgres_tls.build_tls_values(agent, {}, now=NOW)
    renewed = postgres_tls.build_tls_values(agent, values, now=NOW + 340 * DAY)
    assert renewed[postgres_tls.KEY_CA_CERT] == values[postgres_tls.KEY_CA_CERT]
    assert renewed[postgres_tls.KEY_TLS_CERT] != values[postgres_tls.KEY_TLS_CERT]
    server = certificate(renewed, postgres_tls.KEY_TLS_CERT)
    assert server.not_valid_after_utc > NOW + 700 * DAY
    server.verify_directly_issued_by(certificate(values, postgres_tls.KEY_CA_CERT))


def test_a_ca_near_its_end_is_replaced_with_a_new_server_certificate() -> None:
    agent = make_agent()
    values = postgres_tls.build_tls_values(agent, {}, now=NOW)
    renewed = postgres_tls.build_tls_values(agent, values, now=NOW + 3300 * DAY)
    assert renewed[postgres_tls.KEY_CA_CERT] != values[postgres_tls.KEY_CA_CERT]
    server = certificate(renewed, postgres_tls.KEY_TLS_CERT)
    server.verify_directly_issued_by(certificate(renewed, postgres_tls.KEY_CA_CERT))


def test_a_certificate_for_other_names_or_unreadable_data_is_replaced() -> None:
    other = postgres_tls.build_tls_values(make_agent("other"), {}, now=NOW)
    mine = postgres_tls.build_tls_values(make_agent(), other, now=NOW)
    assert "docs-postgres.team.svc" in san_names(certificate(mine, postgres_tls.KEY_TLS_CERT))
    broken = {**other, postgres_tls.KEY_TLS_CERT: b"not a certificate"}
    assert postgres_tls.build_tls_values(make_agent("other"), broken, now=NOW) != broken


def test_the_step_reads_back_what_the_secret_holds_and_skips_what_it_cannot_decode() -> None:
    agent = make_agent()
    values = postgres_tls.build_tls_values(agent, {}, now=NOW)
    secret = postgres_tls.build_tls_secret(agent, values)
    assert secret["metadata"]["name"] == "docs-postgres-tls"
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert tls_step.read_secret_data(secret) == values
    assert tls_step.read_secret_data({"data": {"ca.crt": "%%%"}}) == {}


def secret_items(pod: dict[str, Any], container: dict[str, Any]) -> set[str]:
    """The keys of the TLS Secret that ``container`` sees through its mounts."""
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    found = set()
    for mount in container.get("volumeMounts", []):
        source = volumes.get(mount["name"], {}).get("secret", {})  # else a claim template
        if source.get("secretName") == "docs-postgres-tls":
            assert "items" in source, "a TLS mount must list its files"
            found |= {item["key"] for item in source["items"]}
    return found


def test_the_key_reaches_the_database_front_only_and_the_ca_key_no_pod() -> None:
    seen = {}
    for role, template in rendered_pods(make_agent()).items():
        pod = template["spec"]
        for container in pod["containers"]:
            seen[f"{role}/{container['name']}"] = secret_items(pod, container)
    assert seen.pop("database/tls") == {postgres_tls.KEY_TLS_CERT, postgres_tls.KEY_TLS_KEY}
    assert seen.pop("database/postgres") == set()
    assert {"agent/agent", "reindex/reindex", "backup/backup"} <= set(seen)
    assert all(items == {postgres_tls.KEY_CA_CERT} for items in seen.values()), seen


def test_the_agents_url_verifies_the_server_with_the_mounted_ca() -> None:
    agent = make_agent()
    container = rendered_pods(agent)["agent"]["spec"]["containers"][0]
    env = {item["name"]: item for item in container["env"]}
    base = env[secrets.URL_BASE_ENV]["valueFrom"]["secretKeyRef"]
    assert (base["name"], base["key"]) == ("docs-generated", "database-url")
    url = env["RAGAGENT_DATABASE_URL"]["value"]
    assert url == (
        f"$({secrets.URL_BASE_ENV})?sslmode=verify-full&sslrootcert=/etc/ragagent/postgres-ca/ca.crt"
    )
    mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
    assert postgres_tls.CLIENT_CA_DIR in mounts


def test_an_external_database_gets_neither_the_ca_nor_a_changed_url() -> None:
    external = {"external": {"secretRef": {"name": "db", "key": "url"}}}
    agent = make_agent(database=external)
    for template in rendered_pods(agent).values():
        pod = template["spec"]
        assert all(volume["name"] != postgres_tls.CLIENT_VOLUME for volume in pod["volumes"])
        env = [item["name"] for c in pod["containers"] for item in c.get("env", [])]
        assert secrets.URL_BASE_ENV not in env


def test_the_server_listens_on_its_socket_only_and_the_front_owns_the_port() -> None:
    pod = rendered_pods(make_agent())["database"]["spec"]
    server, front = pod["containers"]
    assert "listen_addresses=" in server["args"]
    assert "ports" not in server
    assert front["ports"][0]["containerPort"] == 5432
    assert front["command"] == ["python", "-m", "ragagent.core.pg_front"]
    assert front["securityContext"]["readOnlyRootFilesystem"] is True
    assert front["securityContext"]["runAsUser"] != pod["securityContext"]["runAsUser"]
    hba = postgres.build_postgres_init_config_map(make_agent())["data"][postgres_front.HBA_KEY]
    assert "trust" not in hba.split("#")[-1]
    assert hba.strip().splitlines()[-1] == "local all all scram-sha-256"


def test_every_long_running_container_has_liveness_and_readiness_probes() -> None:
    """The database pod's TLS front included: a stuck front is restarted (checkov CKV_K8S_8)."""
    pods = rendered_pods(make_agent())
    for role in ("agent", "database"):
        for container in pods[role]["spec"]["containers"]:
            assert "livenessProbe" in container, (role, container["name"])
            assert "readinessProbe" in container, (role, container["name"])
