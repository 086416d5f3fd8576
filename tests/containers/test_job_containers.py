"""The agent image run as the operator's one-shot pods: ingest, backup, restore, re-index.

Each pod comes from the operator's own render function for one realistic RagAgent and runs
against the managed PostgreSQL image, itself run as its rendered StatefulSet pod.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from ragagent.backup import manifest
from ragagent.core import config
from ragagent_operator.render import backup, ingest_job, reindex, restore
from ragagent_operator.spec import Restore
from tests.containers import stack as stacks
from tests.containers.conftest import KNOWLEDGE_HASH
from tests.support.podrun import runner

pytestmark = pytest.mark.containers
# How `ragagent sync` names the knowledge ConfigMap's documents: configmap/<name>/<key>.
SOURCE = f"configmap/{stacks.KNOWLEDGE_CONFIG_MAP}"


def external_ids(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT external_id FROM documents ORDER BY 1")]


def test_the_ingest_pod_ingests_each_knowledge_key_once(
    stack: stacks.Stack, ingested: runner.Finished, host_db_url: str
) -> None:
    assert ingested.exit_code == 0, ingested.describe()
    expected = sorted(f"{SOURCE}/{key}" for key in stack.knowledge_keys)
    assert external_ids(host_db_url) == expected
    # The binaryData PDF key is ingested page by page, each chunk naming its page.
    with psycopg.connect(host_db_url) as conn:
        pages = conn.execute(
            "SELECT c.text FROM chunks c JOIN documents d ON d.id = c.document_id "
            f"WHERE d.external_id = '{SOURCE}/ferry.pdf' ORDER BY c.ordinal"
        ).fetchall()
    assert [text.split("\n", 1)[0] for (text,) in pages] == ["# p. 1", "# p. 2"]


def test_the_ingest_pod_run_again_on_a_fresh_volume_adds_no_copies(
    stack: stacks.Stack, ingested: runner.Finished, host_db_url: str
) -> None:
    """A new pod gets a new ``..<timestamp>`` directory: document names must not depend on it."""
    before = stacks.row_counts(host_db_url)
    job = ingest_job.build_ingest_job(
        stack.agent, knowledge_hash=KNOWLEDGE_HASH, image=stack.agent.image
    )
    again = stack.run(job)
    assert again.exit_code == 0, again.describe()
    report = again.last_json()
    assert (report["source"], report["unchanged"]) == (SOURCE, len(stack.knowledge_keys))
    # What the operator reads: the same counts, left as the pod's termination message.
    [reported] = json.loads(again.termination_message)["sources"]
    assert (reported["source"], reported["documents"]) == (SOURCE, len(stack.knowledge_keys))
    assert stacks.row_counts(host_db_url) == before


@pytest.fixture(scope="module")
def backup_run(stack: stacks.Stack, ingested: runner.Finished) -> runner.Finished:
    """The backup CronJob's pod, run once."""
    return stack.run(backup.build_backup_cronjob(stack.agent, image=stack.agent.image))


def backup_path(stack: stacks.Stack, run: runner.Finished) -> Path:
    """The backup directory on the claim's host directory."""
    return stack.backups_dir / Path(run.last_json()["backup"]).name


def test_the_backup_pod_writes_a_verified_dump_to_its_volume(
    stack: stacks.Stack, backup_run: runner.Finished, host_db_url: str
) -> None:
    assert backup_run.exit_code == 0, backup_run.describe()
    result = backup_run.last_json()
    assert result["result"] == "succeeded"
    assert backup_run.termination_message.strip() == backup_run.stdout.strip().splitlines()[-1]
    written = manifest.verify_backup(backup_path(stack, backup_run))  # size and sha256
    assert written.rows == result["rows"]
    assert written.rows["documents"] == len(stack.knowledge_keys)
    assert (backup_path(stack, backup_run) / manifest.DUMP_FILE).stat().st_size > 0


def test_the_restore_pod_brings_back_the_backed_up_rows(
    stack: stacks.Stack, backup_run: runner.Finished, host_db_url: str
) -> None:
    assert backup_run.exit_code == 0, backup_run.describe()
    backed_up = backup_run.last_json()["rows"]
    with psycopg.connect(host_db_url) as conn:
        conn.execute("DELETE FROM documents WHERE external_id LIKE %s", ("%bakery.md",))
    name = Path(backup_run.last_json()["backup"]).name
    request = Restore.model_validate({"from": name, "force": True})
    done = stack.run(restore.build_restore_job(stack.agent, request, image=stack.agent.image))
    assert done.exit_code == 0, done.describe()
    assert done.last_json()["result"] == "succeeded"
    counts = stacks.row_counts(host_db_url)
    assert {table: counts[table] for table in counts} == {
        table: backed_up[table] for table in counts
    }
    assert len(external_ids(host_db_url)) == len(stack.knowledge_keys)


def index_record(url: str) -> tuple[str, int, datetime]:
    """The recorded embedding model, its dimension, and when the record was written."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT model, dimension, created_at FROM embedding_index").fetchone()
    assert row is not None
    return str(row[0]), int(row[1]), row[2]


def chunk_texts(url: str) -> list[str]:
    """The serving generation's chunk texts (a re-index keeps the previous generation)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.text FROM chunks c JOIN embedding_index e ON e.generation = c.generation "
            "ORDER BY c.document_id, c.ordinal"
        ).fetchall()
    return [str(row[0]) for row in rows]


def run_reindex(current: stacks.Stack) -> runner.Finished:
    settings_hash = reindex.index_settings_hash(current.agent)
    image = current.agent.image
    return current.run(
        reindex.build_reindex_job(current.agent, settings_hash=settings_hash, image=image)
    )


def test_the_reindex_pod_finds_the_configured_settings_serving_and_changes_nothing(
    stack: stacks.Stack, ingested: runner.Finished, host_db_url: str
) -> None:
    before = chunk_texts(host_db_url)
    done = run_reindex(stack)
    assert done.exit_code == 0, done.describe()
    report = done.last_json()
    assert report["action"] == "noop", report
    model_name, dimension, _ = index_record(host_db_url)
    wanted = stack.agent.spec.model
    # The local model answers to both of its names and records the short one.
    assert wanted.embedding_model in config.LOCAL_EMBEDDING_MODEL_NAMES
    assert (model_name, dimension) == (config.LOCAL_EMBEDDING_MODEL, wanted.embedding_dimension)
    assert report["serving"]["model"] == config.LOCAL_EMBEDDING_MODEL
    assert chunk_texts(host_db_url) == before


def test_after_a_chunking_change_the_reindex_pod_re_chunks_checks_and_switches(
    stack: stacks.Stack, ingested: runner.Finished, host_db_url: str
) -> None:
    before = chunk_texts(host_db_url)
    chunking = {"chunking": {"size": 100, "overlap": 20}}
    sources = [{"configMap": {"name": stacks.KNOWLEDGE_CONFIG_MAP}}]
    smaller = stack.with_spec(knowledge={**chunking, "sources": sources})
    done = run_reindex(smaller)
    assert done.exit_code == 0, done.describe()
    # Without an evaluation set the self-check gates it: every sampled chunk finds itself.
    report = done.last_json()
    assert (report["action"], report["check"], report["passed"]) == (
        "switched",
        "selfcheck",
        True,
    ), report
    assert report["serving"]["chunk_size"] == 100
    after = chunk_texts(host_db_url)
    assert after != before
    assert max(len(text) for text in after) <= 100
