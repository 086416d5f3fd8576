"""A container's environment as the kubelet builds it, and its ``$(VAR)`` expansion.

The order follows the kubelet's ``makeEnvironmentVariables``: ``envFrom`` sources in order
(later ones win), then ``env`` entries in order, each ``value`` expanded against what is
defined so far; the ``kubernetes`` Service variables are added last where not already set.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from tests.support.podrun import model

ENV_VAR_FIELDS = {"name", "value", "valueFrom"}
VALUE_FROM_FIELDS = {"configMapKeyRef", "secretKeyRef", "fieldRef"}
KEY_REF_FIELDS = {"name", "key", "optional"}
ENV_FROM_FIELDS = {"configMapRef", "secretRef", "prefix"}
SOURCE_REF_FIELDS = {"name", "optional"}
FIELD_REF_FIELDS = {"fieldPath", "apiVersion"}


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion (third_party/forked/golang/expansion).

    ``$$`` is an escaped ``$``; an undefined ``$(VAR)`` and an unclosed ``$(`` stay as
    written; a ``$`` before anything else is kept with that character.
    """
    out: list[str] = []
    checkpoint = cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            read, is_var, advance = _read_reference(text[cursor + 1 :])
            out.append(env.get(read, f"$({read})") if is_var else read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + text[checkpoint:]


def _read_reference(rest: str) -> tuple[str, bool, int]:
    """(text read, whether it is a variable name, characters consumed) after a ``$``."""
    if rest[0] == "$":
        return "$", False, 1
    if rest[0] == "(":
        close = rest.find(")", 1)
        if close != -1:
            return rest[1:close], True, close + 1
        return "$(", False, 1
    return "$" + rest[0], False, 1


def is_env_name(name: str) -> bool:
    """Kubernetes' relaxed rule (GA in 1.34): printable ASCII except ``=``, not empty."""
    return bool(name) and all(" " <= ch <= "~" for ch in name) and "=" not in name


def build_env(
    container: Mapping[str, Any], *, cluster: model.Cluster, pod: model.PodIdentity, sa: str
) -> dict[str, str]:
    """The container's environment; raises MissingReferenceError like the kubelet refuses."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        env.update(_from_source(source, cluster))
    for var in container.get("env") or []:
        value = _value(var, env, cluster=cluster, pod=pod, sa=sa)
        if value is not None:
            env[var["name"]] = value
    return {**service_env(cluster), **env}


def service_env(cluster: model.Cluster) -> dict[str, str]:
    """The ``kubernetes`` Service's variables, which every container gets."""
    if cluster.api_server is None:
        return {}
    host, port = cluster.api_server
    address = f"tcp://{host}:{port}"
    return {
        "KUBERNETES_SERVICE_HOST": host,
        "KUBERNETES_SERVICE_PORT": str(port),
        "KUBERNETES_SERVICE_PORT_HTTPS": str(port),
        "KUBERNETES_PORT": address,
        f"KUBERNETES_PORT_{port}_TCP": address,
        f"KUBERNETES_PORT_{port}_TCP_PROTO": "tcp",
        f"KUBERNETES_PORT_{port}_TCP_PORT": str(port),
        f"KUBERNETES_PORT_{port}_TCP_ADDR": host,
    }


def _from_source(source: Mapping[str, Any], cluster: model.Cluster) -> dict[str, str]:
    """One ``envFrom`` entry; keys that are no valid variable names are skipped (an Event)."""
    model.require_known(source, ENV_FROM_FIELDS, "envFrom")
    data = _source_data(source, cluster)
    prefix = str(source.get("prefix", ""))
    named = {prefix + key: value for key, value in data.items()}
    return {key: value for key, value in named.items() if is_env_name(key)}


def _source_data(source: Mapping[str, Any], cluster: model.Cluster) -> dict[str, str]:
    if "configMapRef" in source:
        ref, kind, objects = source["configMapRef"], "ConfigMap", cluster.config_maps
    elif "secretRef" in source:
        ref, kind, objects = source["secretRef"], "Secret", cluster.secrets
    else:
        raise model.UnsupportedFieldError("envFrom: needs configMapRef or secretRef")
    model.require_known(ref, SOURCE_REF_FIELDS, f"envFrom.{kind}")
    obj = objects.get(ref["name"])
    if obj is None:
        if ref.get("optional"):
            return {}
        raise model.MissingReferenceError(f"envFrom: {kind} {ref['name']!r} not found")
    return config_map_strings(obj) if kind == "ConfigMap" else secret_strings(obj)


def _value(
    var: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    cluster: model.Cluster,
    pod: model.PodIdentity,
    sa: str,
) -> str | None:
    """The value of one ``env`` entry; None means the variable is skipped (optional, missing)."""
    model.require_known(var, ENV_VAR_FIELDS, f"env {var.get('name')!r}")
    if var.get("value"):
        return expand(str(var["value"]), {**service_env(cluster), **env})
    source = var.get("valueFrom")
    if source is None:
        return ""
    model.require_known(source, VALUE_FROM_FIELDS, f"env {var['name']!r} valueFrom")
    if "fieldRef" in source:
        return _field_value(source["fieldRef"], pod=pod, sa=sa)
    if "configMapKeyRef" in source:
        ref, kind, objects = source["configMapKeyRef"], "ConfigMap", cluster.config_maps
    else:
        ref, kind, objects = source["secretKeyRef"], "Secret", cluster.secrets
    return _key_value(ref, kind, objects)


def _key_value(ref: Mapping[str, Any], kind: str, objects: Mapping[str, Any]) -> str | None:
    model.require_known(ref, KEY_REF_FIELDS, f"{kind} key reference")
    obj = objects.get(ref["name"])
    data = None if obj is None else _strings(kind, obj)
    if data is not None and ref["key"] in data:
        return data[ref["key"]]
    if ref.get("optional"):
        return None
    what = f"{kind} {ref['name']!r}" if data is None else f"key {ref['key']!r} in {ref['name']!r}"
    raise model.MissingReferenceError(f"{what} not found")


def _strings(kind: str, obj: Mapping[str, Any]) -> dict[str, str]:
    return config_map_strings(obj) if kind == "ConfigMap" else secret_strings(obj)


def _field_value(ref: Mapping[str, Any], *, pod: model.PodIdentity, sa: str) -> str:
    model.require_known(ref, FIELD_REF_FIELDS, "fieldRef")
    values = {
        "metadata.name": pod.name,
        "metadata.namespace": pod.namespace,
        "metadata.uid": pod.uid,
        "spec.serviceAccountName": sa,
    }
    path = ref["fieldPath"]
    if path not in values:
        raise model.UnsupportedFieldError(f"fieldRef: fieldPath {path!r}")
    return values[path]


def config_map_strings(obj: Mapping[str, Any]) -> dict[str, str]:
    """A ConfigMap's ``data`` (``binaryData`` never reaches the environment)."""
    return {str(k): str(v) for k, v in (obj.get("data") or {}).items()}


def secret_bytes(obj: Mapping[str, Any]) -> dict[str, bytes]:
    """A Secret's values: ``data`` (base64) with ``stringData`` merged over it, as the API does."""
    values = {str(k): base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    values.update({str(k): str(v).encode() for k, v in (obj.get("stringData") or {}).items()})
    return values


def secret_strings(obj: Mapping[str, Any]) -> dict[str, str]:
    return {key: value.decode() for key, value in secret_bytes(obj).items()}
