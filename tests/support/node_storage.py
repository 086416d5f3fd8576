"""Dynamic local volumes on the real node: rancher's local-path-provisioner, so PVCs bind.

The provisioner runs as a host process of the node runner (like CoreDNS), as cluster admin.
For each claim it runs a helper pod on the node (the node's sandbox image: a shell, mkdir
and rm, no registry) that creates or removes the volume's directory under the node's own
work directory, so the node's teardown removes every volume with it. Volumes are of type
``local``, so the kubelet applies a pod's ``fsGroup`` to them (it never does to ``hostPath``),
and their directories are made ``0770``: without that ownership a non-root pod could not
write. The StorageClass binds on first consumer, deletes the directory with the claim, is
limited to this node, and is the cluster's default while the node runs.

``build_*`` are pure; ``ensure_storage`` and ``start_provisioner`` call out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support import controlplane, node_config, processes

PROVISIONER = "local-path-provisioner"
CONFIG_MAP = "local-path-config"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
# The helper pod's script: the directory is group-owned later by the kubelet (fsGroup).
SETUP_SCRIPT = '#!/bin/sh\nset -eu\nmkdir -m 0770 -p "$VOL_DIR"\n'
TEARDOWN_SCRIPT = '#!/bin/sh\nset -eu\nrm -rf "$VOL_DIR"\n'
HELPER_TIMEOUT_SECONDS = 120


def storage_class_name(network: node_config.Network) -> str:
    return f"ragagent-local-path-{network.index}"


def namespace_name(network: node_config.Network) -> str:
    """The namespace of the helper pods and their ConfigMap, one per node."""
    return f"ragagent-local-path-{network.index}"


def provisioner_name(network: node_config.Network) -> str:
    return f"ragagent.dev/local-path-{network.index}"


def volumes_dir(layout: node_config.Layout) -> Path:
    return layout.workdir / "volumes"


def build_helper_pod(helper_image: str) -> dict[str, Any]:
    """The provisioner's helper pod template; it adds the node name, a toleration of every
    taint, the volumes and the command itself. Root: it writes a hostPath directory."""
    container = {"name": "helper", "image": helper_image, "imagePullPolicy": "Never"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "helper"},
        "spec": {"terminationGracePeriodSeconds": 2, "containers": [container]},
    }


def build_config(layout: node_config.Layout, network: node_config.Network) -> dict[str, Any]:
    """config.json: only this node, with its volumes directory."""
    return {
        "nodePathMap": [{"node": network.node_name, "paths": [str(volumes_dir(layout))]}],
        "cmdTimeoutSeconds": HELPER_TIMEOUT_SECONDS,
    }


def build_scripts_config_map(network: node_config.Network) -> dict[str, Any]:
    """The helper pods mount their setup and teardown scripts from this ConfigMap."""
    metadata = {"name": CONFIG_MAP, "namespace": namespace_name(network)}
    data = {"setup": SETUP_SCRIPT, "teardown": TEARDOWN_SCRIPT}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def build_storage_class(network: node_config.Network) -> dict[str, Any]:
    """Binds when a pod is scheduled, only on this node (a pod elsewhere could not mount the
    directory), and deletes the directory with the claim."""
    annotations = {DEFAULT_CLASS_ANNOTATION: "true", "defaultVolumeType": "local"}
    hostname = {"key": "kubernetes.io/hostname", "values": [network.node_name]}
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": storage_class_name(network), "annotations": annotations},
        "provisioner": provisioner_name(network),
        "volumeBindingMode": "WaitForFirstConsumer",
        "reclaimPolicy": "Delete",
        "allowedTopologies": [{"matchLabelExpressions": [hostname]}],
    }


def build_namespace(network: node_config.Network) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace_name(network)}}


def build_provisioner_argv(
    binary: Path, layout: node_config.Layout, network: node_config.Network, *, kubeconfig: Path
) -> list[str]:
    """Its config and helper pod come from files under the node's work directory, so the
    node's clean-up finds the process by its command line even after a SIGKILL."""
    files = config_dir(layout)
    return [
        str(binary), "--debug", "start", f"--kubeconfig={kubeconfig}",
        f"--config={files / 'config.json'}", f"--helper-pod-file={files / 'helper-pod.json'}",
        f"--namespace={namespace_name(network)}", f"--configmap-name={CONFIG_MAP}",
        f"--provisioner-name={provisioner_name(network)}", "--service-account-name=default",
        # Claims are few in a test; one worker keeps the provisioner's CPU low.
        "--worker-threads=1",
    ]  # fmt: skip


def config_dir(layout: node_config.Layout) -> Path:
    return layout.workdir / PROVISIONER


def ensure_storage(
    cluster: controlplane.ControlPlane,
    layout: node_config.Layout,
    network: node_config.Network,
    *,
    helper_image: str,
) -> None:
    """The provisioner's files, then the namespace with its default ServiceAccount (the
    helper pods'), the scripts' ConfigMap and the StorageClass."""
    volumes_dir(layout).mkdir(exist_ok=True)
    config_dir(layout).mkdir(exist_ok=True)
    (config_dir(layout) / "config.json").write_text(json.dumps(build_config(layout, network)))
    (config_dir(layout) / "helper-pod.json").write_text(json.dumps(build_helper_pod(helper_image)))
    cluster.kubectl("apply", "-f", "-", input=json.dumps(build_namespace(network)))
    cluster.wait_for_service_account("default", namespace_name(network))
    for manifest in (build_scripts_config_map(network), build_storage_class(network)):
        cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))


def start_provisioner(
    cluster: controlplane.ControlPlane, layout: node_config.Layout, network: node_config.Network
) -> processes.Component:
    """The provisioner as a host process; its log is ``<workdir>/local-path-provisioner.log``."""
    argv = build_provisioner_argv(
        cluster.tool(PROVISIONER), layout, network, kubeconfig=cluster.kubeconfig_path
    )
    return processes.start(PROVISIONER, argv, log_dir=layout.workdir)


def delete_storage(cluster: controlplane.ControlPlane, network: node_config.Network) -> None:
    """The StorageClass and the namespace (helper pods with it). Best effort: the PVs left
    by claims that outlive the node are removed with the cluster."""
    cluster.kubectl(
        "delete", "storageclass", storage_class_name(network), "--ignore-not-found", check=False
    )
    cluster.kubectl(
        "delete", "namespace", namespace_name(network), "--ignore-not-found", "--wait=false",
        check=False,
    )  # fmt: skip
