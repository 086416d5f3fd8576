"""Encrypted, off-cluster backups in the rendered CronJob, restore Job and NetworkPolicies."""

from __future__ import annotations

import re
import typing
from typing import Any

import pytest

from ragagent.backup import cli_options
from ragagent_operator import spec_backup
from ragagent_operator.render import backup, common, networkpolicy, restore
from ragagent_operator.render.common import Agent, build_agent

NAME = "20250310T020000.123Z-1a2b3c4d"
KEY = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
STORAGE = {
    "endpoint": "http://minio.storage.svc:9000",
    "bucket": "team-backups",
    "prefix": "prod/docs",
    "region": "eu-west-1",
    "credentialsSecretRef": {"name": "s3-creds"},
    "retention": 14,
    "maxAgeDays": 90,
}


def make_agent(**spec: Any) -> Agent:
    spec.setdefault("database", {"external": {"secretRef": {"name": "pg", "key": "url"}}})
    spec.setdefault(
        "backup", {"enabled": True, "encryption": {"recipients": [KEY]}, "objectStorage": STORAGE}
    )
    body = {"metadata": {"name": "docs", "namespace": "team", "uid": "u-1"}, "spec": spec}
    return build_agent(body, default_image="ragagent:test")


def backup_container(agent: Agent) -> dict[str, Any]:
    cron = backup.build_backup_cronjob(agent, image="ragagent:1")
    return dict(cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0])


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}


def test_the_backup_job_encrypts_and_copies_with_credentials_by_reference_only() -> None:
    env = env_of(backup_container(make_agent()))
    plain = {
        "RAGAGENT_BACKUP_RECIPIENTS": KEY,
        "RAGAGENT_BACKUP_REQUIRE_ENCRYPTION": "true",
        "RAGAGENT_BACKUP_S3_ENDPOINT": "http://minio.storage.svc:9000",
        "RAGAGENT_BACKUP_S3_BUCKET": "team-backups",
        "RAGAGENT_BACKUP_S3_PREFIX": "prod/docs",
        "RAGAGENT_BACKUP_S3_REGION": "eu-west-1",
        "RAGAGENT_BACKUP_S3_KEEP": "14",
        "RAGAGENT_BACKUP_S3_MAX_AGE_DAYS": "90",
    }
    assert {name: env.get(name) for name in plain} == plain  # every wrong value at once
    assert env["RAGAGENT_BACKUP_S3_ACCESS_KEY_ID"] == {
        "secretKeyRef": {"name": "s3-creds", "key": "AWS_ACCESS_KEY_ID"}
    }
    assert env["RAGAGENT_BACKUP_S3_SECRET_ACCESS_KEY"] == {
        "secretKeyRef": {"name": "s3-creds", "key": "AWS_SECRET_ACCESS_KEY"}
    }


def test_plain_backups_get_none_of_it() -> None:
    env = env_of(backup_container(make_agent(backup={"enabled": True})))
    assert not [name for name in env if name.startswith("RAGAGENT_BACKUP_")]


def restore_pod(agent: Agent) -> dict[str, Any]:
    assert agent.spec.restore is not None
    job = restore.build_restore_job(agent, agent.spec.restore, image="ragagent:1")
    return dict(job["spec"]["template"]["spec"])


def test_a_restore_from_the_bucket_fetches_by_id_and_reads_the_identity_file() -> None:
    identity = {"name": "backup-key", "key": "age.key"}
    request = {"from": NAME, "source": "bucket", "identitySecretRef": identity}
    pod = restore_pod(make_agent(restore=request))
    (container,) = pod["containers"]
    assert container["args"] == ["restore", NAME, "--from-bucket"]
    env = env_of(container)
    assert env["RAGAGENT_BACKUP_IDENTITY_FILE"] == "/etc/ragagent/backup-identity/identity"
    assert env["RAGAGENT_BACKUP_S3_BUCKET"] == "team-backups"
    assert "RAGAGENT_BACKUP_RECIPIENTS" not in env
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes["backup-identity"]["secret"] == {
        "secretName": "backup-key",
        "items": [{"key": "age.key", "path": "identity"}],
        "defaultMode": 0o400,
    }
    mount = {"name": "backup-identity", "mountPath": "/etc/ragagent/backup-identity"}
    assert {**mount, "readOnly": True} in container["volumeMounts"]


def test_a_restore_from_the_volume_reads_no_bucket_settings() -> None:
    pod = restore_pod(make_agent(restore={"from": NAME}))
    (container,) = pod["containers"]
    assert container["args"] == ["restore", f"/backups/{NAME}"]
    assert not [n for n in env_of(container) if n.startswith("RAGAGENT_BACKUP_")]


def test_a_restore_from_the_volume_mounts_the_identity_and_names_it_to_the_command() -> None:
    """The backup volume and the identity are both read-only mounts; the command reads the
    identity file through RAGAGENT_BACKUP_IDENTITY_FILE (its --identity-file option)."""
    request = {"from": NAME, "identitySecretRef": {"name": "backup-key"}}
    pod = restore_pod(make_agent(restore=request))
    (container,) = pod["containers"]
    assert container["args"] == ["restore", f"/backups/{NAME}"]
    env = env_of(container)
    identity_env = [n for n, v in env.items() if n.startswith("RAGAGENT_BACKUP_")]
    assert identity_env == ["RAGAGENT_BACKUP_IDENTITY_FILE"]  # no bucket settings
    assert env["RAGAGENT_BACKUP_IDENTITY_FILE"] == "/etc/ragagent/backup-identity/identity"
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes["backup-identity"]["secret"] == {
        "secretName": "backup-key",
        "items": [{"key": "identity", "path": "identity"}],  # the default key
        "defaultMode": 0o400,
    }
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    assert mounts["/etc/ragagent/backup-identity"]["readOnly"] is True
    assert mounts["/backups"]["readOnly"] is True
    option = typing.get_args(cli_options.IdentityFile)[1]
    assert option.envvar == "RAGAGENT_BACKUP_IDENTITY_FILE"  # what the command reads


def test_a_restore_requested_before_the_new_fields_keeps_its_hash() -> None:
    """The Job name comes from this hash: a changed hash would re-run a finished restore."""
    request = spec_backup.Restore.model_validate({"from": NAME, "force": True})
    legacy = {"from": NAME, "force": True, "requestId": None}
    assert restore.restore_request_hash(request) == common.stable_hash(legacy)
    bucket = spec_backup.Restore.model_validate({"from": NAME, "source": "bucket"})
    assert restore.restore_request_hash(bucket) != restore.restore_request_hash(request)


def egress_ports(agent: Agent, component: str) -> list[tuple[Any, int]]:
    policies = {p["metadata"]["name"]: p for p in networkpolicy.build_network_policies(agent)}
    policy = policies[f"docs-{component}"]
    return [
        (rule.get("to"), port["port"])
        for rule in policy["spec"]["egress"]
        for port in rule["ports"]
    ]


def test_backup_and_restore_jobs_may_reach_the_bucket_and_nothing_else_may() -> None:
    storage_ns = [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "storage"}}}
    ]
    for component in ("backup", "restore"):
        assert (storage_ns, 9000) in egress_ports(make_agent(), component)
    for component in ("agent", "ingest", "reindex"):
        assert 9000 not in [port for _, port in egress_ports(make_agent(), component)]
    plain = make_agent(backup={"enabled": True})
    assert [port for _, port in egress_ports(plain, "backup")] == [53, 53, 5432]


def test_an_external_endpoint_opens_its_port_to_the_given_peers() -> None:
    storage = {**STORAGE, "endpoint": "https://s3.eu-west-1.amazonaws.com"}
    peers = [{"ipBlock": {"cidr": "52.95.0.0/16"}}]
    agent = make_agent(
        backup={"enabled": True, "encryption": {"recipients": [KEY]}, "objectStorage": storage},
        networkPolicy={"endpoints": {"objectStorage": {"to": peers}}},
    )
    assert (peers, 443) in egress_ports(agent, "backup")


@pytest.mark.parametrize(
    ("pattern", "value", "valid"),
    [
        (spec_backup.AGE_RECIPIENT_RE, KEY, True),
        (spec_backup.AGE_RECIPIENT_RE, "AGE-SECRET-KEY-1QQQQ", False),
        (spec_backup.AGE_RECIPIENT_RE, KEY[:-1], False),
        (spec_backup.ENDPOINT_RE, "https://s3.example.com", True),
        (spec_backup.ENDPOINT_RE, "http://minio.storage.svc:9000", True),
        (spec_backup.ENDPOINT_RE, "https://s3.example.com/bucket", False),
        (spec_backup.ENDPOINT_RE, "ftp://s3.example.com", False),
        (spec_backup.BUCKET_NAME_RE, "team-backups", True),
        (spec_backup.BUCKET_NAME_RE, "Team_Backups", False),
        (spec_backup.PREFIX_RE, "prod/docs", True),
        (spec_backup.PREFIX_RE, "prod/../docs", False),
        (spec_backup.PREFIX_RE, "/prod", False),
    ],
)
def test_field_patterns(pattern: str, value: str, valid: bool) -> None:
    """The CEL rules' regular expressions, read with RE2's search semantics (anchored)."""
    assert (re.search(pattern, value) is not None) is valid
