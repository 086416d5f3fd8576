"""The fake OpenAI embeddings server (``tests/support/fake_openai_embeddings.py``) run in the
cluster: a pod of the agent image (numpy, starlette and uvicorn are the agent's own) runs
the module from a ConfigMap that holds it and the chat fake it builds on, behind a Service.

Its vectors come from each text's hash: a chunk's own text finds it again (the self-check
passes), while a question's vector is unrelated to any chunk, so the full-text leg finds
the facts and the answers' similarity floor must be 0 for this model.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.e2e import manifests
from tests.node import kube, pods
from tests.support import controlplane, fake_openai_embeddings

NAME = "fake-embeddings"
MODEL = "fake-embedding-model"
DIMENSION = fake_openai_embeddings.DEFAULT_DIMENSION
API_KEY_SECRET = "fake-embeddings-key"
SUPPORT = Path(__file__).resolve().parents[1] / "support"
MOUNT = "/fake"
# ConfigMap key -> where the pod's Python finds it, under MOUNT.
FILES = {
    "support-init.py": "tests/support/__init__.py",
    "fake_openai.py": "tests/support/fake_openai.py",
    "fake_openai_embeddings.py": "tests/support/fake_openai_embeddings.py",
}


def build_config_map() -> dict[str, Any]:
    """The server's modules, as the repository has them (``tests`` is a namespace package)."""
    data = {key: (SUPPORT / Path(path).name).read_text() for key, path in FILES.items()}
    metadata = {"name": NAME}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def build_pod(image: str) -> dict[str, Any]:
    """The server, Ready once its port accepts connections."""
    command = ["python3", "-m", "tests.support.fake_openai_embeddings", "--port"]
    pod = pods.build_restricted_pod(NAME, image=image, command=[*command, str(pods.WEB_PORT)])
    [container] = pod["spec"]["containers"]
    container["env"] = [{"name": "PYTHONPATH", "value": MOUNT}]
    container["ports"] = [{"containerPort": pods.WEB_PORT}]
    container["readinessProbe"] = {"tcpSocket": {"port": pods.WEB_PORT}, "periodSeconds": 1}
    container["volumeMounts"] = [{"name": "code", "mountPath": MOUNT, "readOnly": True}]
    items = [{"key": key, "path": path} for key, path in FILES.items()]
    pod["spec"]["volumes"] = [{"name": "code", "configMap": {"name": NAME, "items": items}}]
    return pod


def build_api_key_secret() -> dict[str, Any]:
    """The key the fake server demands (it answers 401 to any other), labelled for use by
    a RagAgent (the operator refuses an unlabelled Secret)."""
    metadata = {"name": API_KEY_SECRET, "labels": manifests.USE_LABEL}
    data = {"api-key": fake_openai_embeddings.API_KEY}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "stringData": data}


def build_model_spec(namespace: str) -> dict[str, Any]:
    """``spec.model`` for embeddings from the in-cluster server (the chat stays extractive)."""
    return {
        "embeddingProvider": "openai",
        "embeddingModel": MODEL,
        "embeddingDimension": DIMENSION,
        "baseURL": f"http://{NAME}.{namespace}.svc:{pods.WEB_PORT}/v1",
        "apiKey": {"secretRef": {"name": API_KEY_SECRET, "key": "api-key"}},
    }


@contextlib.contextmanager
def serving(cluster: controlplane.ControlPlane, namespace: str, *, image: str) -> Iterator[None]:
    """The server, its Service and its key in ``namespace``, Ready; deleted after."""
    made = [build_config_map(), build_api_key_secret(), build_pod(image)]
    made.append(pods.build_service(NAME, selects=NAME))
    for manifest in made:
        kube.apply(cluster, namespace, manifest)
    try:
        kube.wait_ready(cluster, namespace, NAME)
        yield
    finally:
        for manifest in made:
            kind, name = manifest["kind"].lower(), manifest["metadata"]["name"]
            cluster.kubectl("delete", kind, name, "-n", namespace, "--wait=false", check=False)
