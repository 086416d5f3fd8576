"""The real node's volume provisioner and metrics-server, configured as intended: checked
without starting anything."""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography import x509

from tests.support import components, node_config, node_metrics, node_storage, pki

LAYOUT = node_config.Layout.under(Path("/tmp/ragagent-node-test"))
NETWORK = node_config.Network(3)


def test_the_storage_class_is_the_default_binds_late_deletes_and_stays_on_the_node() -> None:
    storage_class = node_storage.build_storage_class(NETWORK)
    annotations = storage_class["metadata"]["annotations"]
    assert annotations[node_storage.DEFAULT_CLASS_ANNOTATION] == "true"
    # local, not hostPath: the kubelet applies fsGroup only to the former.
    assert annotations["defaultVolumeType"] == "local"
    assert storage_class["volumeBindingMode"] == "WaitForFirstConsumer"
    assert storage_class["reclaimPolicy"] == "Delete"
    assert storage_class["provisioner"] == node_storage.provisioner_name(NETWORK)
    [term] = storage_class["allowedTopologies"]
    assert term["matchLabelExpressions"] == [
        {"key": "kubernetes.io/hostname", "values": [NETWORK.node_name]}
    ]


def test_volumes_live_under_the_nodes_work_dir_and_start_closed_to_others() -> None:
    config = node_storage.build_config(LAYOUT, NETWORK)
    assert config["nodePathMap"] == [
        {"node": NETWORK.node_name, "paths": [str(LAYOUT.workdir / "volumes")]}
    ]
    assert 'mkdir -m 0770 -p "$VOL_DIR"' in node_storage.SETUP_SCRIPT
    assert 'rm -rf "$VOL_DIR"' in node_storage.TEARDOWN_SCRIPT
    scripts = node_storage.build_scripts_config_map(NETWORK)
    assert scripts["metadata"]["namespace"] == node_storage.namespace_name(NETWORK)


def test_the_helper_pod_uses_a_local_image_only() -> None:
    [container] = node_storage.build_helper_pod("localhost/sandbox:1")["spec"]["containers"]
    assert container["image"] == "localhost/sandbox:1"
    assert container["imagePullPolicy"] == "Never"


def test_the_provisioners_command_line_names_the_work_dir_for_clean_up() -> None:
    argv = node_storage.build_provisioner_argv(
        Path("/bin/lpp"), LAYOUT, NETWORK, kubeconfig=Path("/k")
    )
    assert any(str(LAYOUT.workdir) in arg for arg in argv)
    assert f"--provisioner-name={node_storage.provisioner_name(NETWORK)}" in argv


def test_the_api_server_runs_the_aggregation_layer(tmp_path: Path) -> None:
    material = pki.write_pki(tmp_path)
    argv = components.build_apiserver_argv(
        Path("/bin/kas"), material=material, ports=components.Ports(*range(1, 7)),
        cert_dir=tmp_path,
    )  # fmt: skip
    assert f"--proxy-client-cert-file={material.front_proxy_cert}" in argv
    assert f"--requestheader-client-ca-file={material.ca_cert}" in argv
    assert f"--requestheader-allowed-names={pki.FRONT_PROXY_CLIENT}" in argv
    assert "--enable-aggregator-routing=true" in argv
    proxy = x509.load_pem_x509_certificate(material.front_proxy_cert.read_bytes())
    assert proxy.subject.rfc4514_string() == f"CN={pki.FRONT_PROXY_CLIENT}"


def test_metrics_server_scrapes_only_real_nodes_and_listens_on_the_node_ip() -> None:
    argv = node_metrics.build_argv(
        Path("/bin/ms"), kubeconfig=Path("/k"), ca_cert=Path("/ca"),
        cert_dir=LAYOUT.workdir / "metrics-server", node_ip=NETWORK.node_ip, port=4443,
    )  # fmt: skip
    assert f"--node-selector={node_config.REAL_NODE_LABEL}=true" in argv
    assert f"--bind-address={NETWORK.node_ip}" in argv
    assert "--kubelet-certificate-authority=/ca" in argv
    assert "--kubelet-insecure-tls" not in argv
    assert "--kubelet-use-node-status-port" in argv


def test_metrics_server_serves_the_name_the_aggregator_checks(tmp_path: Path) -> None:
    material = pki.write_pki(tmp_path)
    ca = x509.load_pem_x509_certificate(material.ca_cert.read_bytes())
    ca_key = pki.load_ca_key(material.ca_key)
    cert_pem, _ = node_metrics.build_serving_cert(NETWORK.node_ip, ca=ca, ca_key=ca_key)
    cert = x509.load_pem_x509_certificate(cert_pem)
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "ragagent-metrics-server.kube-system.svc" in names.get_values_for_type(x509.DNSName)
    assert NETWORK.node_ip in [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]


def test_the_metrics_api_points_at_the_host_process() -> None:
    service, endpoints, api_service = node_metrics.build_registration(
        NETWORK.node_ip, port=4443, ca_pem=b"CA"
    )
    assert "selector" not in service["spec"]
    assert endpoints["subsets"][0]["addresses"] == [{"ip": NETWORK.node_ip}]
    assert endpoints["subsets"][0]["ports"][0]["port"] == 4443
    spec = api_service["spec"]
    assert api_service["metadata"]["name"] == "v1beta1.metrics.k8s.io"
    assert spec["service"] == {"name": service["metadata"]["name"], "namespace": "kube-system",
                               "port": 443}  # fmt: skip
    assert base64.b64decode(spec["caBundle"]) == b"CA"
