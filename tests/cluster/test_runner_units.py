"""The control-plane runner's pure parts, checked without starting anything."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.support import components, fixtures_cluster, pki, sealed_secrets

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> pki.Pki:
    return pki.write_pki(tmp_path_factory.mktemp("pki"))


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


@pytest.mark.parametrize(
    "test_name",
    ["test_simple", "test_param[a/b-C_D]", "test_" + "very_long_name_" * 10],
)
def test_namespace_names_are_valid_dns_labels(test_name: str) -> None:
    name = fixtures_cluster.namespace_name(test_name)

    assert len(name) <= 63
    assert DNS_LABEL.fullmatch(name)


def test_serving_cert_is_for_loopback_and_signed_by_the_ca(material: pki.Pki) -> None:
    serving, ca = load_cert(material.serving_cert), load_cert(material.ca_cert)
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value

    assert "127.0.0.1" in [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]
    assert serving.issuer == ca.subject
    serving.verify_directly_issued_by(ca)


def test_admin_cert_is_in_system_masters(material: pki.Pki) -> None:
    admin = load_cert(material.admin_cert)

    orgs = admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [org.value for org in orgs] == ["system:masters"]


def test_sealing_key_is_pkcs1_as_the_controller_expects(material: pki.Pki) -> None:
    assert material.sealing_key.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")


def test_key_secret_is_labelled_active_and_holds_the_pair(material: pki.Pki) -> None:
    cert, key = material.sealing_cert.read_bytes(), material.sealing_key.read_bytes()

    secret = sealed_secrets.build_key_secret(cert, key)

    assert secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"]["labels"] == {sealed_secrets.KEY_LABEL: "active"}
    assert base64.b64decode(secret["data"]["tls.key"]) == key


def test_controller_runs_in_a_private_mount_namespace() -> None:
    argv = sealed_secrets.build_argv(Path("/bin/ctl"), sa_dir=Path("/sa"), port=1, metrics_port=2)

    assert argv[0] == "unshare"
    assert "--mount" in argv
    assert argv[-3:] == [
        "--listen-addr=127.0.0.1:1",
        "--listen-metrics-addr=127.0.0.1:2",
        "--key-renew-period=0",
    ]


def test_apiserver_enforces_rbac_and_binds_loopback_only(material: pki.Pki) -> None:
    ports = components.Ports(1, 2, 3, 4, 5, 6)

    argv = components.build_apiserver_argv(
        Path("/k"), material=material, ports=ports, cert_dir=Path("/c")
    )

    assert "--authorization-mode=RBAC" in argv
    assert "--bind-address=127.0.0.1" in argv
    assert "--secure-port=3" in argv


def test_fake_node_is_annotated_for_kwok() -> None:
    node = components.build_fake_node()

    assert node["metadata"]["annotations"] == {components.FAKE_NODE_ANNOTATION: "fake"}
    assert "spec" not in node  # no taint: test pods must schedule onto it
