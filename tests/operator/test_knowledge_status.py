"""status.knowledge and KnowledgeSynced from the ingest Job's sync report (pure builders)."""

from __future__ import annotations

from typing import Any

from ragagent_operator.steps.knowledge_status import (
    build_item_error,
    build_knowledge,
    build_knowledge_condition,
)

NAMES = ["configmap/faq", "https://x.example/a.md"]
FINISHED = "2026-12-04T12:00:00Z"
JOB = {"metadata": {"name": "docs-ingest-0123456789"}}
SYNCED = {
    "source": "configmap/faq",
    "documents": 3,
    "chunks": 7,
    "synced_at": "2026-12-04T11:59:00Z",
}
FAILED = {
    "source": "https://x.example/a.md",
    "documents": 1,
    "chunks": 2,
    "error": {"reason": "FetchFailed", "message": "could not fetch: 503"},
}
BEFORE = [{"source": "https://x.example/a.md", "documents": 1, "chunks": 2,
           "lastSyncTime": "2026-12-01T00:00:00Z"}]  # fmt: skip


def condition(report: dict[str, Any], **job: Any) -> dict[str, Any]:
    entries = build_knowledge(NAMES, report, finished_at=FINISHED, old=BEFORE)
    state = {"job": JOB, "finished": True, "job_failed": False, **job}
    return build_knowledge_condition(entries, report, **state)


def test_each_source_gets_its_counts_and_sync_time_in_spec_order() -> None:
    report = {"result": "succeeded", "sources": [{**FAILED, "error": None}, SYNCED]}
    entries = build_knowledge(NAMES, report, finished_at=FINISHED, old=[])
    assert entries == [
        {"source": "configmap/faq", "documents": 3, "chunks": 7,
         "lastSyncTime": "2026-12-04T11:59:00Z"},
        {"source": "https://x.example/a.md", "documents": 1, "chunks": 2, "lastSyncTime": FINISHED},
    ]  # fmt: skip


def test_a_failed_source_keeps_its_last_successful_sync_time_and_says_why() -> None:
    report = {"result": "failed", "sources": [SYNCED, FAILED]}
    entry = build_knowledge(NAMES, report, finished_at=FINISHED, old=BEFORE)[1]
    assert entry["lastSyncTime"] == "2026-12-01T00:00:00Z"
    assert entry["lastError"] == {"reason": "FetchFailed", "message": "could not fetch: 503"}


def test_a_source_the_report_does_not_name_keeps_its_previous_entry() -> None:
    entries = build_knowledge(NAMES, {}, finished_at=None, old=BEFORE)
    assert entries == [{"source": "configmap/faq", "documents": 0, "chunks": 0}, *BEFORE]


def test_skipped_items_are_named_in_the_error_with_their_totals() -> None:
    item = {
        "unsupported": ["logo.png", "a.csv", "b.csv"],
        "unsupported_total": 5,
        "failed": [{"name": "scan.pdf", "reason": "ValidationFailed", "message": "no text"}],
    }
    assert build_item_error(item) == {
        "reason": "ValidationFailed",
        "message": "5 unsupported: logo.png, a.csv, b.csv, ...; 1 unreadable: scan.pdf: no text",
    }
    assert build_item_error({"unsupported": ["logo.png"]}) == {
        "reason": "UnsupportedContent",
        "message": "1 unsupported: logo.png",
    }
    assert build_item_error({"documents": 2}) is None


def test_the_condition_is_false_naming_each_failed_source() -> None:
    cond = condition({"result": "failed", "sources": [SYNCED, FAILED]})
    assert (cond["type"], cond["status"], cond["reason"]) == (
        "KnowledgeSynced", "False", "SourceSyncFailed"
    )  # fmt: skip
    assert cond["message"] == "https://x.example/a.md: FetchFailed: could not fetch: 503"


def test_the_condition_is_true_with_the_totals_and_names_what_was_skipped() -> None:
    clean = {**FAILED, "error": None}
    cond = condition({"result": "succeeded", "sources": [SYNCED, clean]})
    assert (cond["status"], cond["reason"]) == ("True", "SyncSucceeded")
    assert cond["message"] == "4 documents (9 chunks) from 2 sources"
    skipped = condition({"result": "succeeded", "sources": [{**SYNCED, "unsupported": ["x.png"]}]})
    assert (skipped["status"], skipped["reason"]) == ("True", "SyncSkippedItems")
    assert skipped["message"].endswith("skipped configmap/faq: 1 unsupported: x.png")


def test_the_condition_is_unknown_while_the_job_runs_and_false_when_it_failed_silently() -> None:
    running = condition({}, finished=False)
    assert (running["status"], running["message"]) == (
        "Unknown", "ingest Job docs-ingest-0123456789 is running"
    )  # fmt: skip
    assert condition({}, job=None, finished=False)["message"] == "waiting for the ingest Job"
    silent = condition({}, job_failed=True)
    assert (silent["status"], silent["reason"]) == ("False", "SourceSyncFailed")
