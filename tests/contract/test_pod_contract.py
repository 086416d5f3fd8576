"""Every pod the operator renders starts: its environment loads in the agent and builds what
its command builds, and its command line parses with the agent's CLI.

For the samples and a matrix of specs (LLM provider and embeddings, auth mode, managed or
external database, sealed or plain secrets, backups on or off), each agent-image pod's
environment (image ENV, ConfigMap, Secrets with generated values) is loaded by the
agent's settings loader for that pod's command, and then the command's own builders
run: the server's embedder, answerer, limiter, app and authenticator; the ingest and
re-index embedder; the backup and restore database target. The managed database's
StatefulSet must agree with the URL the agent is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr

from ragagent import cli_backup
from ragagent.core import config, security
from ragagent.core.db import Database
from ragagent.main import create_app, limiter_for
from ragagent.rag import embeddings, fallback, llm
from ragagent.services import auth as authentication
from ragagent_operator import constants as c
from ragagent_operator.render import deployment, postgres, postgres_tls, reindex, secrets
from ragagent_operator.render.common import Agent
from tests.contract import pod_env, specs
from tests.operator.render.pods import rendered_pods

AGENTS = [pytest.param(agent, id=f"sample-{agent.name}") for agent in specs.sample_agents()] + [
    pytest.param(specs.agent_of("docs", case.spec()), id=str(case)) for case in specs.MATRIX
]


@pytest.mark.parametrize("agent", AGENTS)
async def test_every_pod_starts_with_what_its_command_needs(
    agent: Agent, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    world = pod_env.build_world(agent, tmp_path)
    for role, template in rendered_pods(agent).items():
        pod = template["spec"]
        try:
            if role == "database":
                check_database_pod(agent, pod, world)
            else:
                await check_agent_pod(agent, pod, world, monkeypatch)
        except Exception as exc:
            raise AssertionError(f"the {role} pod of {agent.name}: {exc!r}") from exc


async def check_agent_pod(
    agent: Agent, pod: dict[str, Any], world: pod_env.World, monkeypatch: pytest.MonkeyPatch
) -> None:
    (container,) = pod["containers"]
    superuser = world.secrets[secrets.generated_secret_name(agent)].get(c.KEY_DB_SUPERUSER_PASSWORD)
    env = pod_env.container_env(container, world).values()
    assert superuser is None or not any(superuser in value for value in env)
    command = pod_env.parse_command(container)
    overrides = {k: v for k, v in command.params.items() if k in ("host", "port") and v}
    with pod_env.process_env(monkeypatch, pod_env.container_env(container, world)):
        settings = config.load_settings(config.settings_class(command.name), **overrides)
    unauthenticated = agent.spec.auth.mode == "none"
    assert settings.is_production is not unauthenticated
    assert settings.auth_disabled is unauthenticated
    # The server purges on this schedule; `ragagent purge` in any pod reads the same value.
    assert settings.conversation_retention_days == agent.spec.conversations.retention.days
    if command.name == "serve":
        await check_serve(agent, settings, world)
        return
    # Only the server verifies credentials: no Job holds a key that hashes or verifies them.
    assert settings.secret_key is None
    assert settings.secret_key_previous is None
    assert settings.jwt_hs256_secret is None
    if command.name in ("ingest", "sync"):
        check_embedder(agent, settings, world)
        check_ingest_paths(pod, container, command)
    elif command.name == "index":
        check_rollout(agent, settings, world, container, command)
    else:
        assert command.name in ("backup", "restore"), command.name
        expected = database_url(agent, world)
        if agent.managed_db:  # verified against the RagAgent's CA, which the pod mounts
            query = postgres_tls.build_client_url_params()
            expected = pod_env.local_paths(f"{expected}?{query}", container, world)
        assert cli_backup.resolve_url(settings, command.params["database_url"]) == expected


async def check_serve(agent: Agent, settings: config.Settings, world: pod_env.World) -> None:
    check_embedder(agent, settings, world)
    answerer = fallback.create_llm(settings)
    expected = fallback.FallbackLLM if agent.spec.model.provider == "openai" else llm.ExtractiveLLM
    assert isinstance(answerer, expected)
    if isinstance(answerer, fallback.FallbackLLM):
        assert secret_text(settings.openai_api_key) == api_key(agent, world)
        await answerer.aclose()
    # Built as the lifespan builds it; the storage reaches the database only when counting.
    limiter_for(settings, cast(Database, None))
    create_app(settings)
    # The authenticator only keeps the database; no check below reaches it.
    auth = authentication.Authenticator(settings, cast(Database, None))
    assert await auth.allows_anonymous() is (agent.spec.auth.mode == "none")
    assert auth.jwt_configured is (agent.spec.auth.mode == "jwt")
    signing = world.secret_value(secrets.generated_secret_name(agent), c.KEY_SECRET_KEY)
    assert security.api_key_pepper(settings) == signing.encode()
    jwt = agent.spec.auth.jwt
    hs256 = jwt.hs256_secret_ref if jwt is not None and agent.spec.auth.mode == "jwt" else None
    hs256_key = None if hs256 is None else world.secret_value(hs256.name, hs256.key)
    assert secret_text(settings.jwt_hs256_secret) == hs256_key


def check_embedder(agent: Agent, settings: config.Settings, world: pod_env.World) -> None:
    embedder = embeddings.create_embedder(settings)
    assert embedder.dimension == agent.spec.model.embedding_dimension
    if agent.spec.model.embedding_provider == "openai":
        assert embedder.model_name == agent.spec.model.embedding_model
        assert secret_text(settings.openai_api_key) == api_key(agent, world)


def check_rollout(
    agent: Agent,
    settings: config.Settings,
    world: pod_env.World,
    container: dict[str, Any],
    command: pod_env.ParsedCommand,
) -> None:
    """The re-index pod embeds and chunks with the spec's settings (whatever the ConfigMap's
    served ones are) and gates on the RagAgent's evaluation, its set mounted where named."""
    assert command.sub == "rollout"
    check_embedder(agent, settings, world)
    chunking = agent.spec.knowledge.chunking
    assert (settings.chunk_size, settings.chunk_overlap) == (chunking.size, chunking.overlap)
    gate, params = agent.spec.knowledge.evaluation, command.params
    assert (params["k"], params["min_ndcg"], params["min_recall"]) == (
        gate.k,
        gate.min_ndcg,
        gate.min_recall,
    )
    assert (params["max_ndcg_drop"], params["max_recall_drop"]) == (
        gate.max_ndcg_drop,
        gate.max_recall_drop,
    )
    mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
    eval_set = params["eval_set"]
    assert (eval_set is None) is (gate.config_map is None)
    assert eval_set is None or str(eval_set.parent) in mounts


def api_key(agent: Agent, world: pod_env.World) -> str | None:
    """The LLM endpoint's key as its Secret holds it; None for a keyless endpoint."""
    key = agent.spec.model.api_key
    if key is None:
        return None
    if key.secret_ref is not None:
        return world.secret_value(key.secret_ref.name, key.secret_ref.key)
    return world.secret_value(secrets.llm_secret_name(agent), c.KEY_LLM_API_KEY)


def secret_text(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


def check_ingest_paths(
    pod: dict[str, Any], container: dict[str, Any], command: pod_env.ParsedCommand
) -> None:
    """Each local path ``ragagent ingest`` or ``sync`` is given is mounted in the container."""
    mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
    given = command.params.get("paths") or command.params.get("sources") or []
    # `ragagent sync` names a ConfigMap source configmap/<name>=<mounted path>.
    paths = [text.split("=", 1)[1] if text.startswith("configmap/") else text for text in given]
    assert all(path.startswith("https://") or path in mounts for path in paths), paths
    assert len(pod["volumes"]) == len(container["volumeMounts"])


def check_database_pod(agent: Agent, pod: dict[str, Any], world: pod_env.World) -> None:
    """The managed PostgreSQL is the server the agent's URL names, with the same password."""
    container, front = pod["containers"]  # the server, then its TLS front on the port
    env = {item["name"]: pod_env.value_of(item, world) for item in container["env"]}
    url = urlsplit(database_url(agent, world))
    # The agent connects as the application role; the superuser is the database pod's alone.
    assert (url.username, url.password) == (env["POSTGRES_APP_USER"], env["POSTGRES_APP_PASSWORD"])
    assert env["POSTGRES_USER"] != env["POSTGRES_APP_USER"]
    assert env["POSTGRES_PASSWORD"] not in url.geturl()
    assert url.path == f"/{env['POSTGRES_DB']}"
    assert url.hostname == f"{postgres.postgres_name(agent)}.{agent.namespace}.svc"
    assert url.port == front["ports"][0]["containerPort"]


def database_url(agent: Agent, world: pod_env.World) -> str:
    external = agent.spec.database.external
    if external is not None:
        return world.secret_value(external.secret_ref.name, external.secret_ref.key)
    return world.secret_value(secrets.generated_secret_name(agent), c.KEY_DATABASE_URL)


def test_the_matrix_renders_every_kind_of_pod() -> None:
    roles: dict[str, int] = {}
    for param in AGENTS:
        for role in rendered_pods(cast(Agent, param.values[0])):
            roles[role] = roles.get(role, 0) + 1
    print(f"pod contract: {len(AGENTS)} specs, {sum(roles.values())} pods: {roles}")
    assert set(roles) == {
        "agent", "ingest", "reindex", "backup", "pre-reindex-backup", "restore", "database"
    }  # fmt: skip
    assert len(specs.SAMPLES) == 2


def test_the_images_own_environment_is_part_of_every_agent_pod() -> None:
    """The image runs in production by default; a pod must override that by the same name."""
    image = pod_env.image_env()
    assert image["RAGAGENT_ENVIRONMENT"] == "production"
    assert "RAGAGENT_MODEL_DIR" not in image  # the baked path; the container tests check it


def test_the_previous_api_key_pepper_reaches_the_server_only_while_it_exists(
    tmp_path: Path,
) -> None:
    """secret-key-previous is set by hand during a rotation: the server then reads it, and
    starts without it otherwise; no Job ever reads it."""
    agent = specs.agent_of(
        "docs", specs.Case("extractive", "apiKey", "managed", "kubernetes", True).spec()
    )
    world = pod_env.build_world(agent, tmp_path)
    generated = world.secrets[secrets.generated_secret_name(agent)]
    for previous in (None, "p" * 40):
        if previous is not None:
            generated[c.KEY_SECRET_KEY_PREVIOUS] = previous
        for role, template in rendered_pods(agent).items():
            if role == "database":
                continue
            (container,) = template["spec"]["containers"]
            env = pod_env.container_env(container, world)
            expected = previous if role == "agent" else None
            assert env.get("RAGAGENT_SECRET_KEY_PREVIOUS") == expected, role


def test_the_reindex_pod_builds_with_the_spec_settings_while_the_agent_serves_the_old_ones(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Until the re-index switches, the ConfigMap (and so the server) keeps the served
    settings; the re-index pod's own variables give it the spec's."""
    before = specs.agent_of("docs", specs.MATRIX[0].spec())
    spec = before.spec.model_dump(by_alias=True, exclude_none=True)
    spec["knowledge"]["chunking"] = {"size": 400, "overlap": 40}
    changed = specs.agent_of("docs", spec)
    served = reindex.build_served_agent(changed, reindex.build_index_settings(before))
    world = pod_env.build_world(served, tmp_path)
    job = reindex.build_reindex_job(changed, settings_hash="h", image="i")
    server = deployment.build_deployment(served, config_hash="", secrets_hash="")
    loaded = {}
    for name, pod in (("index", job), ("serve", server)):
        (container,) = pod["spec"]["template"]["spec"]["containers"]
        with pod_env.process_env(monkeypatch, pod_env.container_env(container, world)):
            loaded[name] = config.load_settings(config.settings_class(name))
    assert (loaded["index"].chunk_size, loaded["index"].chunk_overlap) == (400, 40)
    assert (loaded["serve"].chunk_size, loaded["serve"].chunk_overlap) == (800, 120)
