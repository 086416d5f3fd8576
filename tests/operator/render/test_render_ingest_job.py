"""The ingest Job runs ``ragagent sync`` over every source and reports through its pod."""

from __future__ import annotations

from ragagent_operator.render import ingest_job
from ragagent_operator.render.common import Agent, build_agent

SOURCES = [{"configMap": {"name": "faq"}}, {"url": "https://x.example/a.md"}]


def make_agent(**knowledge: str) -> Agent:
    body = {
        "metadata": {"name": "docs", "namespace": "team", "uid": "u-1"},
        "spec": {"database": {"managed": {}}, "knowledge": {"sources": SOURCES, **knowledge}},
    }
    return build_agent(body, default_image="ragagent:test", monitoring_namespace="prom")


def test_the_ingest_job_syncs_every_source_under_its_name_and_prunes_the_unlisted() -> None:
    job = ingest_job.build_ingest_job(make_agent(), knowledge_hash="0123456789ab", image="img")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == [
        "sync",
        "--prune-unlisted",
        "configmap/faq=/knowledge/0",
        "https://x.example/a.md",
    ]
    assert {"name": "src0", "mountPath": "/knowledge/0"} in container["volumeMounts"]


def test_the_ingest_job_leaves_its_result_as_the_termination_message() -> None:
    job = ingest_job.build_ingest_job(make_agent(), knowledge_hash="0123456789ab", image="img")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_a_source_has_one_name_for_its_documents_and_its_status() -> None:
    agent = make_agent()
    names = [ingest_job.source_name(source) for source in agent.spec.knowledge.sources]
    assert names == ["configmap/faq", "https://x.example/a.md"]


def test_a_refresh_schedule_runs_the_same_pod_from_a_cronjob_without_overlap() -> None:
    agent = make_agent(refreshSchedule="0 */6 * * *")
    cron = ingest_job.build_ingest_cronjob(agent, image="img", suspend=True)
    once = ingest_job.build_ingest_job(agent, knowledge_hash="0123456789ab", image="img")
    assert cron["metadata"]["name"] == "docs-ingest-refresh"
    assert (cron["spec"]["schedule"], cron["spec"]["concurrencyPolicy"]) == (
        "0 */6 * * *",
        "Forbid",
    )
    assert cron["spec"]["suspend"] is True
    template = cron["spec"]["jobTemplate"]
    assert template["metadata"]["labels"]["app.kubernetes.io/component"] == "ingest"
    assert template["spec"]["template"] == once["spec"]["template"]
