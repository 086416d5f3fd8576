"""What one-shot Jobs report: the final JSON line their pod left as its termination message.

``ragagent backup`` and ``ragagent restore`` write their result line to the
container's termination message file, and the kubelet copies it into the pod
status. Reading it there needs no log access and survives log rotation.

A finished Job never changes, so its message is read once per process and
kept (bounded): a resync of an unchanged RagAgent sends no extra request.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from ragagent_operator import backup_status, k8s
from ragagent_operator import constants as c

CACHE_SIZE = 1024
_messages: OrderedDict[tuple[str, str], str | None] = OrderedDict()


async def termination_message(api: k8s.Api, namespace: str, job: str) -> str | None:
    """The newest pod's termination message of the finished Job ``job``; None when none.

    Call it for finished Jobs only: the answer is cached for the life of the process.
    """
    key = (namespace, job)
    if key in _messages:
        return _messages[key]
    pods = await k8s.list_objects(api, "v1", "Pod", namespace, {c.LABEL_JOB_NAME: job})
    message = backup_status.build_termination_message(pods)
    _messages[key] = message
    while len(_messages) > CACHE_SIZE:
        _messages.popitem(last=False)
    return message


async def newest_finished_messages(
    api: k8s.Api, namespace: str, jobs: Iterable[Mapping[str, Any]]
) -> dict[str, str]:
    """``{job name: message}`` for the newest finished Job (the one status reports), or {}."""
    finished = backup_status.build_finished_jobs(jobs)
    if not finished:
        return {}
    name = finished[-1].name
    message = await termination_message(api, namespace, name)
    return {name: message} if message else {}
