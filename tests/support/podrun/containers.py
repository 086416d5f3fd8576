"""Container-level fields: command and args, ports, resources, probes and preStop."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from ragagent_operator import quantity
from tests.support.podrun import env, model

CONTAINER_FIELDS = {
    "name",
    "image",
    "imagePullPolicy",
    "command",
    "args",
    "env",
    "envFrom",
    "ports",
    "resources",
    "securityContext",
    "volumeMounts",
    "workingDir",
    "startupProbe",
    "livenessProbe",
    "readinessProbe",
    "lifecycle",
    "terminationMessagePath",
    "terminationMessagePolicy",
}
PORT_FIELDS = {"name", "containerPort", "protocol", "hostPort"}
PROBE_FIELDS = {
    "httpGet",
    "tcpSocket",
    "exec",
    "initialDelaySeconds",
    "periodSeconds",
    "timeoutSeconds",
    "failureThreshold",
    "successThreshold",
}
HTTP_GET_FIELDS = {"path", "port", "scheme", "httpHeaders"}
RESOURCE_NAMES = {"cpu", "memory", "ephemeral-storage"}


@dataclass(frozen=True)
class Command:
    """``--entrypoint`` (from ``command``) and the words after the image (from ``args``)."""

    options: list[str]
    args: list[str]


def command_and_args(spec: Mapping[str, Any], environment: Mapping[str, str]) -> Command:
    """An empty ``command`` or ``args`` counts as unset, as in Kubernetes."""
    command = [env.expand(str(word), environment) for word in spec.get("command") or []]
    args = [env.expand(str(word), environment) for word in spec.get("args") or []]
    options = [f"--entrypoint={json.dumps(command)}"] if command else []
    return Command(options, args)


def ports(spec: Mapping[str, Any]) -> dict[str, int]:
    """Port name (or its number as text) -> port; with host networking they are host ports."""
    found: dict[str, int] = {}
    for port in spec.get("ports") or []:
        model.require_known(port, PORT_FIELDS, f"port {port.get('name')!r}")
        number = int(port["containerPort"])
        if port.get("hostPort") not in (None, number):
            raise model.UnsupportedFieldError("ports: hostPort differs from containerPort")
        if port.get("protocol", "TCP") not in ("TCP", "UDP"):
            raise model.UnsupportedFieldError(f"ports: protocol {port['protocol']!r}")
        found[str(port.get("name") or number)] = number
    return found


def resource_options(resources: Mapping[str, Any]) -> list[str]:
    """Limits as cgroup limits, the CPU request as CPU shares, as the kubelet sets them
    (no request means the minimum of 2 shares; a limit alone is also the request).

    Memory requests and ``ephemeral-storage`` only steer scheduling and eviction.
    """
    model.require_known(resources, {"limits", "requests"}, "resources")
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    for name in {*limits, *requests}:
        if name not in RESOURCE_NAMES:
            raise model.UnsupportedFieldError(f"resources: {name!r}")
    options = []
    if "memory" in limits:
        memory = int(quantity.parse_quantity(str(limits["memory"])))
        options += [f"--memory={memory}", f"--memory-swap={memory}"]
    if "cpu" in limits:
        options.append(f"--cpus={quantity.parse_quantity(str(limits['cpu'])):f}")
    cpu_request = quantity.parse_quantity(str(requests.get("cpu", limits.get("cpu", "0"))))
    return [*options, f"--cpu-shares={cpu_shares(cpu_request)}"]


def cpu_shares(cpu: Decimal) -> int:
    """The kubelet's MilliCPUToShares: 1024 per CPU, at least 2."""
    return max(2, int(cpu * 1000) * 1024 // 1000)


def probe(spec: Mapping[str, Any] | None, named_ports: Mapping[str, int]) -> model.Probe | None:
    if spec is None:
        return None
    model.require_known(spec, PROBE_FIELDS, "probe")
    timed = model.Probe(
        "exec",
        initial_delay_seconds=int(spec.get("initialDelaySeconds", 0)),
        period_seconds=int(spec.get("periodSeconds", 10)),
        timeout_seconds=int(spec.get("timeoutSeconds", 1)),
        failure_threshold=int(spec.get("failureThreshold", 3)),
    )
    if "httpGet" in spec:
        get = spec["httpGet"]
        model.require_known(get, HTTP_GET_FIELDS, "probe httpGet")
        if get.get("scheme", "HTTP") != "HTTP":
            raise model.UnsupportedFieldError(f"probe httpGet scheme {get['scheme']!r}")
        port = _port(get["port"], named_ports)
        headers = tuple((h["name"], h["value"]) for h in get.get("httpHeaders", ()))
        path = get.get("path", "/")
        return replace(timed, action="http", port=port, path=path, headers=headers)
    if "tcpSocket" in spec:
        model.require_known(spec["tcpSocket"], {"port"}, "probe tcpSocket")
        return replace(timed, action="tcp", port=_port(spec["tcpSocket"]["port"], named_ports))
    if "exec" in spec:
        model.require_known(spec["exec"], {"command"}, "probe exec")
        return replace(timed, command=tuple(spec["exec"]["command"]))
    raise model.UnsupportedFieldError("probe: needs httpGet, tcpSocket or exec")


def _port(port: int | str, named_ports: Mapping[str, int]) -> int:
    if isinstance(port, int):
        return port
    if port not in named_ports:
        raise model.TranslationError(f"probe port {port!r} is not a named container port")
    return named_ports[port]


def pre_stop_seconds(spec: Mapping[str, Any]) -> int:
    """The preStop sleep; other lifecycle hooks are not mirrored."""
    lifecycle = spec.get("lifecycle") or {}
    model.require_known(lifecycle, {"preStop"}, "lifecycle")
    pre_stop = lifecycle.get("preStop")
    if pre_stop is None:
        return 0
    model.require_known(pre_stop, {"sleep"}, "lifecycle.preStop")
    model.require_known(pre_stop["sleep"], {"seconds"}, "lifecycle.preStop.sleep")
    return int(pre_stop["sleep"]["seconds"])
