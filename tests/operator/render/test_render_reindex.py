"""Pure builders for the backup-before-re-index flow."""

from __future__ import annotations

from typing import Any

from ragagent_operator import constants as c
from ragagent_operator.render import backup, reindex
from ragagent_operator.render.common import Agent, build_agent


def make_agent(**spec: Any) -> Agent:
    spec.setdefault("database", {"managed": {}})
    spec.setdefault("backup", {"enabled": True})
    body = {"metadata": {"name": "docs", "namespace": "team", "uid": "u-1"}, "spec": spec}
    return build_agent(body, default_image="ragagent:test")


def test_index_settings_hash_follows_embedding_model_and_chunking_only() -> None:
    base = reindex.index_settings_hash(make_agent())
    assert base == reindex.index_settings_hash(make_agent(replicas=5))
    other_model = make_agent(model={"embeddingModel": "BAAI/bge-small-en-v1.5"})
    other_chunks = make_agent(knowledge={"chunking": {"size": 400, "overlap": 40}})
    hashes = {base, *map(reindex.index_settings_hash, (other_model, other_chunks))}
    assert len(hashes) == 3


def test_pre_reindex_backup_job_uses_the_cronjob_pod_template() -> None:
    agent = make_agent()
    job = backup.build_pre_reindex_backup_job(agent, settings_hash="abcdef0123456789", image="i:1")
    cron = backup.build_backup_cronjob(agent, image="i:1")
    assert job["kind"] == "Job"
    assert job["metadata"]["name"] == "docs-backup-pre-abcdef0123"
    assert job["spec"] == cron["spec"]["jobTemplate"]["spec"]
    assert job["metadata"]["labels"][c.LABEL_COMPONENT] == c.COMPONENT_BACKUP
    assert job["metadata"]["ownerReferences"][0]["kind"] == "RagAgent"
    assert job["metadata"]["annotations"] == {c.Annotation.INDEX_HASH: "abcdef0123456789"}


def test_reindex_job_runs_ragagent_reindex_with_the_agent_environment() -> None:
    agent = make_agent()
    job = reindex.build_reindex_job(agent, settings_hash="abcdef0123456789", image="i:1")
    assert job["metadata"]["name"] == "docs-reindex-abcdef0123"
    assert job["metadata"]["labels"][c.LABEL_COMPONENT] == c.COMPONENT_REINDEX
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert (container["command"], container["args"]) == (["ragagent"], ["reindex"])
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "tmp", "emptyDir": {}} in pod["volumes"]
    env_names = {item["name"] for item in container["env"]}
    assert any("DATABASE" in name for name in env_names)
    assert pod["restartPolicy"] == "Never"
