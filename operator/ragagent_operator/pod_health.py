"""Why a workload's pods do not serve, read from their status alone (pure).

A Deployment's status says only "0 of 1 ready". The kubelet knows more and writes it
into each container's status: ``state.waiting`` says why the container is not running
now (CrashLoopBackOff, ImagePullBackOff, CreateContainerConfigError, ...), and
``lastState.terminated`` how its previous run ended: reason, exit code and the
termination message. The agent container uses ``terminationMessagePolicy:
FallbackToLogsOnError``, so a crash leaves the tail of its log there.

``build_pod_problem`` turns that into a condition reason and a message naming the pod,
the container and its last error. It takes pods exactly as the API server lists them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ragagent_operator import conditions

Reason = conditions.Reason
# The kubelet's waiting reasons, by the condition reason they give.
WAITING_REASONS: dict[str, Reason] = {
    "CrashLoopBackOff": Reason.CONTAINER_CRASH_LOOPING,
    "ErrImagePull": Reason.IMAGE_PULL_FAILED,
    "ImagePullBackOff": Reason.IMAGE_PULL_FAILED,
    "ErrImageNeverPull": Reason.IMAGE_PULL_FAILED,
    "InvalidImageName": Reason.IMAGE_PULL_FAILED,
    "CreateContainerConfigError": Reason.CONTAINER_CONFIG_ERROR,
    "CreateContainerError": Reason.CONTAINER_CONFIG_ERROR,
    "RunContainerError": Reason.CONTAINER_CONFIG_ERROR,
}
# Enough to name an error; a condition message is read by people, not parsed.
ERROR_CHARS = 300
# The last line of a Python traceback, unindented: the exception's type, module-qualified
# unless it is a builtin, and its text.
EXCEPTION_LINE = re.compile(
    r"^((?:[A-Za-z_]\w*\.)+[A-Za-z_]\w*: .*|[A-Za-z_]\w*(?:Error|Exception)(?:: .*)?)$"
)
# Where the message of a JSON log record cut at the front ends: the first unescaped quote
# followed by the next key.
MESSAGE_END = re.compile(r'(?<!\\)", "')


@dataclass(frozen=True)
class PodProblem:
    """A condition reason (a ``conditions.Reason``) and a message for people."""

    reason: str
    message: str


def build_pod_problem(pods: Iterable[Mapping[str, Any]]) -> PodProblem | None:
    """The first failing container of the newest pods first; None when no container
    fails (pods that are only starting, or pending scheduling, are not a problem)."""
    newest = sorted(pods, key=_created, reverse=True)
    for pod in newest:
        status = pod.get("status") or {}
        containers = [
            *(status.get("initContainerStatuses") or []),
            *(status.get("containerStatuses") or []),
        ]
        for container in containers:
            problem = build_container_problem(container)
            if problem is not None:
                name = (pod.get("metadata") or {}).get("name", "?")
                return PodProblem(problem.reason, f"pod {name} {problem.message}")
    return None


def build_container_problem(container: Mapping[str, Any]) -> PodProblem | None:
    """One container's failure: waiting for a failure reason, or running again after a
    failed run but not ready yet (between two crashes). None when it is healthy."""
    waiting = (container.get("state") or {}).get("waiting") or {}
    last = (container.get("lastState") or {}).get("terminated") or {}
    restarts = int(container.get("restartCount") or 0)
    name = container.get("name", "?")
    if waiting.get("reason") in WAITING_REASONS:
        text = f"container {name}: {waiting['reason']}"
        if restarts:
            text += f" ({restarts} restarts)"
        detail = build_last_exit(last) or _shorten(str(waiting.get("message") or ""))
        return PodProblem(WAITING_REASONS[waiting["reason"]], _join(text, detail))
    failed_before = int(last.get("exitCode") or 0) != 0
    if failed_before and not container.get("ready"):
        text = f"container {name}: restarted {restarts} time{'' if restarts == 1 else 's'}"
        return PodProblem(Reason.CONTAINER_CRASH_LOOPING, _join(text, build_last_exit(last)))
    return None


def build_last_exit(terminated: Mapping[str, Any]) -> str:
    """'last exit code 3 (Error): <last error>' of a terminated state; '' without one."""
    if not terminated:
        return ""
    text = f"last exit code {terminated.get('exitCode', '?')} ({terminated.get('reason', '?')})"
    error = build_last_error(str(terminated.get("message") or ""))
    return f"{text}: {error}" if error else text


def build_last_error(text: str) -> str:
    """The most telling line of a termination message or log tail: the exception line of
    the last traceback when there is one, else the last line. JSON log lines count by
    their ``message``, also the first one, whose front the kubelet may have cut off."""
    messages = [_log_message(line) for line in text.strip().splitlines() if line.strip()]
    for message in reversed(messages):
        lines = [line.rstrip() for line in message.splitlines()]
        exceptions = [line for line in lines if EXCEPTION_LINE.match(line)]
        if exceptions:
            return _shorten(exceptions[-1])
    return _shorten(messages[-1].strip().splitlines()[-1]) if messages else ""


def _log_message(line: str) -> str:
    """The message of a JSON log record; of a record cut at the front, the message's
    remaining tail; any other line as it is."""
    try:
        record = json.loads(line)
    except ValueError:
        end = MESSAGE_END.search(line)
        if end is None or not line.rstrip().endswith("}"):
            return line
        try:
            return str(json.loads(f'"{line[: end.start()]}"'))
        except ValueError:  # cut inside an escape sequence
            return line[: end.start()].replace("\\n", "\n").replace('\\"', '"')
    if isinstance(record, dict) and isinstance(record.get("message"), str):
        return str(record["message"])
    return line


def _shorten(text: str) -> str:
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 3] + "..."


def _join(text: str, detail: str) -> str:
    return f"{text}; {detail}" if detail else text


def _created(pod: Mapping[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("creationTimestamp") or "")
