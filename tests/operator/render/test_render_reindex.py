"""Pure builders for the backup-before-re-index flow."""

from __future__ import annotations

import json
from typing import Any

from ragagent.core import settings_env
from ragagent_operator import constants as c
from ragagent_operator.render import backup, configmap, ingest_job, reindex
from ragagent_operator.render.common import Agent, build_agent

OTHER_MODEL = {
    "embeddingProvider": "openai",
    "embeddingModel": "text-embedding-3-small",
    "embeddingDimension": 512,
    "baseURL": "https://llm.example/v1",
}


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


def test_reindex_job_runs_the_gated_rollout_with_the_agent_environment() -> None:
    agent = make_agent()
    job = reindex.build_reindex_job(agent, settings_hash="abcdef0123456789", image="i:1")
    assert job["metadata"]["name"] == "docs-reindex-abcdef0123"
    assert job["metadata"]["labels"][c.LABEL_COMPONENT] == c.COMPONENT_REINDEX
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == ["ragagent"]
    assert container["args"] == [
        "index", "rollout", "--k", "10", "--min-ndcg", "0.0", "--min-recall", "0.0",
        "--max-ndcg-drop", "0.02", "--max-recall-drop", "0.02", "--keep", "1",
    ]  # fmt: skip
    # The report line the operator reads comes back as the termination message.
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert "evaluation" not in [volume["name"] for volume in pod["volumes"]]  # self-check
    env_names = {item["name"] for item in container["env"]}
    assert any("DATABASE" in name for name in env_names)
    assert pod["restartPolicy"] == "Never"


def test_reindex_job_mounts_the_evaluation_set_read_only_and_passes_the_gate() -> None:
    evaluation = {
        "configMap": {"name": "golden", "key": "support.jsonl"},
        "k": 20, "minNdcg": 0.5, "minRecall": 0.6, "maxNdcgDrop": 0.02, "maxRecallDrop": 1.0,
    }  # fmt: skip
    agent = make_agent(knowledge={"evaluation": evaluation})
    pod = reindex.build_reindex_job(agent, settings_hash="h" * 16, image="i:1")["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["args"] == [
        "index", "rollout", "--eval-set", "/evaluation/queries.jsonl", "--k", "20",
        "--min-ndcg", "0.5", "--min-recall", "0.6", "--max-ndcg-drop", "0.02",
        "--max-recall-drop", "1.0", "--keep", "1",
    ]  # fmt: skip
    [volume] = [item for item in pod["spec"]["volumes"] if item["name"] == "evaluation"]
    assert volume["configMap"] == {
        "name": "golden",
        "items": [{"key": "support.jsonl", "path": "queries.jsonl"}],
        "optional": True,
    }
    [mount] = [item for item in container["volumeMounts"] if item["name"] == "evaluation"]
    assert mount == {"name": "evaluation", "mountPath": "/evaluation", "readOnly": True}


def test_reindex_job_embeds_with_the_spec_settings_over_the_served_config_map() -> None:
    """The ConfigMap holds the served settings meanwhile; explicit env outranks envFrom."""
    agent = make_agent(model=OTHER_MODEL, knowledge={"chunking": {"size": 400, "overlap": 40}})
    job = reindex.build_reindex_job(agent, settings_hash="abc", image="i:1")
    container = job["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env[settings_env.env_name("embedding_provider")] == "openai"
    assert env[settings_env.env_name("embedding_model")] == "text-embedding-3-small"
    assert env[settings_env.env_name("embedding_dimension")] == "512"
    assert env[settings_env.env_name("chunk_size")] == "400"
    assert env[settings_env.env_name("chunk_overlap")] == "40"
    settings = json.loads(job["metadata"]["annotations"][reindex.SETTINGS_ANNOTATION])
    assert settings == reindex.build_index_settings(agent)
    assert settings["hash"] == reindex.index_settings_hash(agent)


def test_the_served_agent_keeps_the_serving_settings_until_they_switch() -> None:
    before = make_agent()
    served = reindex.build_index_settings(before)
    changed = make_agent(model=OTHER_MODEL, knowledge={"chunking": {"size": 400, "overlap": 40}})
    assert reindex.build_served_agent(changed, None) is changed
    assert reindex.build_served_agent(changed, reindex.build_index_settings(changed)) is changed
    serving = reindex.build_served_agent(changed, served)
    assert reindex.build_index_settings(serving) == served
    assert serving.spec.model.base_url == changed.spec.model.base_url  # only the index settings
    data = configmap.build_config_map(serving)["data"]
    assert data[settings_env.env_name("embedding_model")] == before.spec.model.embedding_model
    assert data[settings_env.env_name("chunk_size")] == "800"
    # The ingest pod writes to the serving generation: it reads the served ConfigMap as is.
    ingest = ingest_job.build_ingest_job(serving, knowledge_hash="k", image="i:1")
    container = ingest["spec"]["template"]["spec"]["containers"][0]
    overridden = {item["name"] for item in container["env"]}
    assert settings_env.env_name("embedding_model") not in overridden
