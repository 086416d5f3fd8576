"""The sync result as a termination message always fits the kubelet's 4096 bytes."""

from __future__ import annotations

import json

from ragagent.rag.sync import SourceError, SourceReport
from ragagent.rag.sync_items import ItemFailure
from ragagent.rag.sync_report import TERMINATION_MESSAGE_LIMIT, build_termination_message


def report(n: int, *, items: int = 0, url: int = 0) -> SourceReport:
    return SourceReport(
        source=f"https://example.com/{'x' * url}{n}" if url else f"configmap/kb{n}",
        documents=n,
        chunks=2 * n,
        unsupported=[f"file-{i}.png" for i in range(items)],
        failed=[
            ItemFailure(name=f"b{i}.pdf", reason="ValidationFailed", message="m" * 300)
            for i in range(items)
        ],
        error=SourceError(reason="FetchFailed", message="e" * 500) if n % 2 else None,
        synced_at=None if n % 2 else "2026-12-04T12:00:00Z",
    )


def test_a_small_result_is_the_full_reports_without_zero_fields() -> None:
    line = build_termination_message([report(2)])
    assert json.loads(line) == {
        "result": "succeeded",
        "sources": [
            {
                "source": "configmap/kb2",
                "documents": 2,
                "chunks": 4,
                "synced_at": "2026-12-04T12:00:00Z",
            }
        ],
    }


def test_long_item_lists_are_cut_to_a_few_names_with_their_totals() -> None:
    line = build_termination_message([report(1, items=40)])
    [source] = json.loads(line)["sources"]
    assert len(line.encode()) < TERMINATION_MESSAGE_LIMIT
    assert (source["unsupported_total"], len(source["unsupported"])) == (40, 3)
    assert (source["failed_total"], source["error"]["reason"]) == (40, "FetchFailed")


def test_forty_sources_with_long_lists_still_fit_keeping_every_error_reason() -> None:
    reports = [report(n, items=5) for n in range(40)]
    line = build_termination_message(reports)
    message = json.loads(line)
    assert len(line.encode()) < TERMINATION_MESSAGE_LIMIT
    assert "truncated" not in message
    reasons = [s.get("error", {}).get("reason") for s in message["sources"]]
    assert reasons == [None, "FetchFailed"] * 20


def test_more_than_fits_is_cut_and_marked_truncated() -> None:
    reports = [report(n, url=1500) for n in range(64)]
    message = json.loads(build_termination_message(reports))
    assert message["truncated"] is True
    assert 0 < len(message["sources"]) < 64
    assert len(json.dumps(message, separators=(",", ":")).encode()) < TERMINATION_MESSAGE_LIMIT
