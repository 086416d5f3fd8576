"""``status.knowledge`` and the ``KnowledgeSynced`` condition, from the ingest Job's report.

The ingest Job runs ``ragagent sync``, which leaves one JSON line as its
container's termination message: per source, its document and chunk counts,
the items it skipped (unsupported, unreadable) and, when the source could not
be synced at all, the error that kept its previous documents. The status
lists every source of the spec, in its order. A source the report does not
name (its Job still runs, failed without a report, or the message was cut)
keeps what the status said before, and a failed sync keeps the time of the
last successful one.

The ``build_*`` functions are pure; ``note_knowledge`` reads the Job and its pod.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ragagent_operator import backup_status, conditions, context, job_reports, k8s
from ragagent_operator import constants as c
from ragagent_operator.render import common, ingest_job

KEPT = ("documents", "chunks", "lastSyncTime", "lastError")
MESSAGE_LIMIT = 1000


def build_knowledge(
    names: Sequence[str],
    report: Mapping[str, Any],
    *,
    finished_at: str | None,
    old: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """One ``status.knowledge`` entry per source name, from ``report`` (``{}``: none)."""
    before = {str(item.get("source")): item for item in old}
    reported = {str(item.get("source")): item for item in report.get("sources") or []}
    return [_entry(name, reported.get(name), before.get(name) or {}, finished_at) for name in names]


def _entry(
    name: str, item: Mapping[str, Any] | None, before: Mapping[str, Any], finished_at: str | None
) -> dict[str, Any]:
    if item is None:
        return {"source": name, "documents": 0, "chunks": 0} | {
            key: before[key] for key in KEPT if key in before
        }
    entry: dict[str, Any] = {
        "source": name,
        "documents": int(item.get("documents") or 0),
        "chunks": int(item.get("chunks") or 0),
    }
    synced = before.get("lastSyncTime") if item.get("error") else item.get("synced_at")
    if synced or (finished_at and not item.get("error")):
        entry["lastSyncTime"] = synced or finished_at
    error = build_item_error(item)
    if error is not None:
        entry["lastError"] = error
    return entry


def build_item_error(item: Mapping[str, Any]) -> dict[str, str] | None:
    """The source's error; else what it skipped (by name); None for a complete sync."""
    error = item.get("error")
    if error:
        return {"reason": str(error.get("reason")), "message": str(error.get("message") or "")}
    unsupported, failed = item.get("unsupported") or [], item.get("failed") or []
    unsupported_total = int(item.get("unsupported_total") or len(unsupported))
    failed_total = int(item.get("failed_total") or len(failed))
    parts = []
    if unsupported_total:
        more = ", ..." if unsupported_total > len(unsupported) else ""
        parts.append(f"{unsupported_total} unsupported: {', '.join(unsupported)}{more}")
    if failed_total:
        named = "; ".join(f"{f.get('name')}: {f.get('message')}" for f in failed)
        parts.append(f"{failed_total} unreadable: {named}")
    if not parts:
        return None
    reason = str(failed[0].get("reason")) if failed else "UnsupportedContent"
    return {"reason": reason, "message": "; ".join(parts)[:MESSAGE_LIMIT]}


def build_knowledge_condition(
    entries: Sequence[Mapping[str, Any]],
    report: Mapping[str, Any],
    *,
    job: Mapping[str, Any] | None,
    finished: bool,
    job_failed: bool,
) -> conditions.Condition:
    """KnowledgeSynced: False when a source failed, Unknown while its Job runs (or when
    it left no report)."""
    kind, why = conditions.Type.KNOWLEDGE_SYNCED, conditions.Reason
    failed = [item for item in report.get("sources") or [] if item.get("error")]
    if failed:
        message = "; ".join(
            f"{item.get('source')}: {item['error'].get('reason')}: {item['error'].get('message')}"
            for item in failed
        )
        return conditions.build_condition(
            kind, False, why.SOURCE_SYNC_FAILED, message[:MESSAGE_LIMIT]
        )
    name = (job or {}).get("metadata", {}).get("name", "")
    if job_failed:
        message = f"ingest Job {name} failed without a report"
        return conditions.build_condition(kind, False, why.SOURCE_SYNC_FAILED, message)
    if not report:
        message = f"ingest Job {name} is running" if job else "waiting for the ingest Job"
        if job is not None and finished:  # e.g. an agent image older than `ragagent sync`
            message = f"ingest Job {name} finished without a report"
        return conditions.build_condition(kind, "Unknown", why.SYNCING, message)
    documents = sum(int(entry.get("documents") or 0) for entry in entries)
    chunks = sum(int(entry.get("chunks") or 0) for entry in entries)
    summary = f"{documents} documents ({chunks} chunks) from {len(entries)} sources"
    skipped = [f"{e['source']}: {e['lastError']['message']}" for e in entries if "lastError" in e]
    if skipped:
        message = f"{summary}; skipped {'; '.join(skipped)}"[:MESSAGE_LIMIT]
        return conditions.build_condition(kind, True, why.SYNC_SKIPPED_ITEMS, message)
    return conditions.build_condition(kind, True, why.SYNC_SUCCEEDED, summary)


async def note_knowledge(ctx: context.Context) -> list[dict[str, Any]]:
    """Note KnowledgeSynced and return ``status.knowledge`` (empty without sources)."""
    agent = ctx.agent
    sources = agent.spec.knowledge.sources
    if not sources:
        message = "spec.knowledge.sources is empty"
        reason = conditions.Reason.NO_KNOWLEDGE_SOURCES
        ctx.note(conditions.Type.KNOWLEDGE_SYNCED, True, reason, message)
        return []
    # A scheduled re-sync may be newer than the ingest Job of the content hash.
    scheduled = agent.spec.knowledge.refresh_schedule
    job = ctx.ingest_job if ctx.ingest_job and not scheduled else await _newest_ingest_job(ctx)
    finished = backup_status.build_finished_job(job)
    report: dict[str, Any] = {}
    if job is not None and finished is not None:
        meta = {**job.get("metadata", {}), "namespace": agent.namespace}
        line = await job_reports.read_termination_message(ctx.api, {**job, "metadata": meta})
        report = backup_status.parse_result_line(line)
    finished_at = backup_status.format_time(finished.time) if finished else None
    old = (ctx.body.get("status") or {}).get("knowledge") or []
    names = [ingest_job.source_name(source) for source in sources]
    entries = build_knowledge(names, report, finished_at=finished_at, old=old)
    job_failed = finished is not None and not finished.succeeded
    cond = build_knowledge_condition(
        entries, report, job=job, finished=finished is not None, job_failed=job_failed
    )
    ctx.note(conditions.Type.KNOWLEDGE_SYNCED, cond["status"], cond["reason"], cond["message"])
    return entries


async def _newest_ingest_job(ctx: context.Context) -> dict[str, Any] | None:
    """In a status-only refresh the ingest step did not run: find its Job (None: no Job)."""
    if ctx.fresh:
        return None
    selector = common.selector_labels(ctx.agent, c.COMPONENT_INGEST)
    jobs = await k8s.list_objects(ctx.api, "batch/v1", "Job", ctx.agent.namespace, selector)
    newest = sorted(jobs, key=lambda job: str(job["metadata"].get("creationTimestamp")))
    return dict(newest[-1]) if newest else None
