"""What one-shot Jobs report: the final JSON line their pod left as its termination message.

``ragagent backup`` and ``ragagent restore`` write their result line to the
container's termination message file, and the kubelet copies it into the pod
status. Reading it there needs no log access and survives log rotation.

A finished Job never changes, so its message is read once per process and
kept (bounded), keyed by the Job's uid so that a Job deleted and created again
under the same name is read afresh: a resync of an unchanged RagAgent sends no
extra request.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from ragagent_operator import backup_status, k8s
from ragagent_operator import constants as c

CACHE_SIZE = 1024
_messages: OrderedDict[tuple[str, str, str], str | None] = OrderedDict()


async def read_termination_message(api: k8s.Api, job: Mapping[str, Any]) -> str | None:
    """The newest pod's termination message of the finished Job ``job``; None when none.

    Call it for finished Jobs only: the answer is cached for the life of the process.
    """
    meta = job.get("metadata") or {}
    namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
    key = (namespace, name, str(meta.get("uid", "")))
    if key in _messages:
        return _messages[key]
    pods = await k8s.list_objects(api, "v1", "Pod", namespace, {c.LABEL_JOB_NAME: name})
    message = backup_status.build_termination_message(pods)
    _messages[key] = message
    while len(_messages) > CACHE_SIZE:
        _messages.popitem(last=False)
    return message


async def read_newest_finished_messages(
    api: k8s.Api, namespace: str, jobs: Iterable[Mapping[str, Any]]
) -> dict[str, str]:
    """``{job name: message}`` for the newest finished Job (the one status reports), or {}.

    List items carry no namespace of their own in every client, so ``namespace`` is given.
    """
    listed = list(jobs)
    finished = backup_status.build_finished_jobs(listed)
    if not finished:
        return {}
    name = finished[-1].name
    job = next(item for item in listed if item.get("metadata", {}).get("name") == name)
    meta = {**job.get("metadata", {}), "namespace": namespace}
    message = await read_termination_message(api, {**job, "metadata": meta})
    return {name: message} if message else {}
