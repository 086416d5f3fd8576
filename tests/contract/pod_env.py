"""A rendered pod's environment as its container sees it, and its command as the CLI parses it.

The pieces the kubelet combines, lowest precedence first: the image's own ENV
(read from agent/Dockerfile), ``envFrom`` sources, then ``env`` items, whose
``valueFrom`` references are resolved against the Secrets and ConfigMaps that
``World`` holds for one RagAgent: what the operator generates (plain or sealed,
with values of the strength the operator generates) and what a user provides.
"""

from __future__ import annotations

import base64
import re
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main

from ragagent import cli
from ragagent.core import config
from ragagent.core.config import Settings
from ragagent_operator import constants as c
from ragagent_operator import sealing
from ragagent_operator.render import configmap, postgres, postgres_tls, secrets
from ragagent_operator.render.common import Agent
from tests.support.podrun import env as podrun_env

DOCKERFILE = Path(__file__).parents[2] / "agent" / "Dockerfile"
# The model directory is the image's baked path (the container tests check it); here the
# local embedder reads the developer's model cache, as the agent tests do.
NOT_FROM_IMAGE = {"RAGAGENT_MODEL_DIR"}


def agent_env_names() -> set[str]:
    """Every variable the agent's settings read (and the ``_FILE`` variants of each)."""
    names = {
        name
        for field_name, info in Settings.model_fields.items()
        for name in config.field_env_names(info, field_name)
    }
    return names | {f"{name}_FILE" for name in names}


def image_env() -> dict[str, str]:
    """The agent image's final-stage ENV that the agent's settings read."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    final_stage = re.split(r"(?im)^FROM\s", text)[-1]
    env: dict[str, str] = {}
    for line in final_stage.splitlines():
        if re.match(r"(?i)^ENV\s", line):
            pairs = (token.split("=", 1) for token in shlex.split(line)[1:] if "=" in token)
            env.update(dict(pairs))
    wanted = agent_env_names() - NOT_FROM_IMAGE
    return {name: value for name, value in env.items() if name in wanted}


@dataclass
class World:
    """The Secrets and ConfigMaps of one RagAgent's namespace, by name, with plain values."""

    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    config_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    # Files a volume puts in a container, by mount path: a local directory holding them.
    mounts: dict[str, Path] = field(default_factory=dict)

    def secret_value(self, name: str, key: str) -> str:
        assert name in self.secrets, f"Secret {name} does not exist"
        assert key in self.secrets[name], f"Secret {name} has no key {key}"
        return self.secrets[name][key]


def build_world(agent: Agent, files: Path) -> World:
    """The operator's objects as the cluster holds them, plus the Secrets the user names;
    files a volume mounts (the database's CA) go below ``files``, the test's own tmp_path."""
    world = World(config_maps={configmap.config_map_name(agent): _config_map_data(agent)})
    generated = generate_values(agent)
    name = secrets.generated_secret_name(agent)
    if agent.secrets_provider == "kubernetes":
        raw = {key: value.encode() for key, value in generated.items()}
        plain = secrets.build_plain_secret(agent, name, raw)
        world.secrets[name] = {k: base64.b64decode(v).decode() for k, v in plain["data"].items()}
    else:  # the sealed-secrets controller unseals each key into a Secret of the template's name
        sealed = secrets.build_sealed_secret(agent, name, {k: "sealed" for k in generated})
        unsealed = sealed["spec"]["template"]["metadata"]["name"]
        world.secrets[unsealed] = {key: generated[key] for key in sealed["spec"]["encryptedData"]}
    world.secrets.update(_user_and_sealed_llm_secrets(agent))
    if agent.managed_db:
        _add_database_ca(agent, world, files)
    return world


def _add_database_ca(agent: Agent, world: World, files: Path) -> None:
    """The operator's TLS Secret, and its CA file where the agent's pods mount it."""
    values = postgres_tls.build_tls_values(agent, {}, now=datetime.now(UTC))
    world.secrets[postgres_tls.tls_secret_name(agent)] = {k: v.decode() for k, v in values.items()}
    directory = files / "database-ca"
    directory.mkdir(exist_ok=True)
    (directory / postgres_tls.KEY_CA_CERT).write_bytes(values[postgres_tls.KEY_CA_CERT])
    world.mounts[postgres_tls.CLIENT_CA_DIR] = directory


def generate_values(agent: Agent) -> dict[str, str]:
    """The generated Secret's values, made as the operator makes them (secret_steps)."""
    values = {key: sealing.generate_token(24).decode() for key in secrets.generated_keys(agent)}
    values[c.KEY_SECRET_KEY] = sealing.generate_token(48).decode()
    if c.KEY_DB_PASSWORD in values:
        values[c.KEY_DATABASE_URL] = postgres.build_database_url(agent, values[c.KEY_DB_PASSWORD])
    return values


def _config_map_data(agent: Agent) -> dict[str, str]:
    data: dict[str, str] = configmap.build_config_map(agent)["data"]
    assert all(isinstance(value, str) for value in data.values())
    return data


def _user_and_sealed_llm_secrets(agent: Agent) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    external = agent.spec.database.external
    if external is not None:
        password = sealing.generate_token(24).decode()
        url = f"postgresql://rag:{password}@pg.{agent.namespace}.svc:5432/rag"
        url += "?sslmode=verify-full&sslrootcert=system"
        found.setdefault(external.secret_ref.name, {})[external.secret_ref.key] = url
    jwt = agent.spec.auth.jwt
    if jwt is not None and jwt.hs256_secret_ref is not None:
        ref = jwt.hs256_secret_ref
        found.setdefault(ref.name, {})[ref.key] = sealing.generate_token(48).decode()
    api_key = agent.spec.model.api_key
    token = "sk-" + sealing.generate_token(36).decode()
    if api_key is not None and api_key.secret_ref is not None:
        found.setdefault(api_key.secret_ref.name, {})[api_key.secret_ref.key] = token
    elif api_key is not None and api_key.sealed is not None:
        found[secrets.llm_secret_name(agent)] = {c.KEY_LLM_API_KEY: token}
    return found


def container_env(container: dict[str, Any], world: World) -> dict[str, str]:
    """The container's environment: image ENV, then envFrom, then env (the kubelet's order)."""
    env = image_env()
    for source in container.get("envFrom", []):
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            data = world.config_maps[source["configMapRef"]["name"]]
        else:
            data = world.secrets[source["secretRef"]["name"]]
        env.update({prefix + name: value for name, value in data.items()})
    for item in container.get("env", []):
        if not is_absent_optional(item, world):
            value = value_of(item, world)  # the kubelet expands $(VAR) in a value only
            env[item["name"]] = podrun_env.expand(value, env) if "value" in item else value
    return {name: local_paths(value, container, world) for name, value in env.items()}


def local_paths(value: str, container: dict[str, Any], world: World) -> str:
    """``value`` with the paths of files the container mounts pointed at their local copies."""
    for mount in container.get("volumeMounts", []):
        local = world.mounts.get(mount["mountPath"])
        if local is not None:
            value = value.replace(mount["mountPath"] + "/", f"{local}/")
    return value


def is_absent_optional(item: dict[str, Any], world: World) -> bool:
    """An optional Secret key the Secret does not hold: the kubelet leaves the variable out."""
    ref = item.get("valueFrom", {}).get("secretKeyRef")
    if ref is None or not ref.get("optional"):
        return False
    return ref["key"] not in world.secrets.get(ref["name"], {})


def value_of(item: dict[str, Any], world: World) -> str:
    if "value" in item:
        return str(item["value"])
    source = item["valueFrom"]
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"]
        return world.secret_value(ref["name"], ref["key"])
    ref = source["configMapKeyRef"]
    return world.config_maps[ref["name"]][ref["key"]]


@contextmanager
def process_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Iterator[None]:
    """Exactly ``env`` as far as the agent's settings can tell, for the block's duration."""
    with monkeypatch.context() as patch:
        for name in agent_env_names():
            patch.delenv(name, raising=False)
        for name, value in env.items():
            patch.setenv(name, value)
        yield


@dataclass(frozen=True)
class ParsedCommand:
    """``name``: the top command (it picks the settings); ``sub``: a sub-command of a group,
    e.g. ``rollout`` of ``index``; ``params``: the options of the command that runs."""

    name: str
    params: dict[str, Any]
    sub: str | None = None


def parse_command(container: dict[str, Any]) -> ParsedCommand:
    """The container's command and args as ``ragagent`` parses them, without running them."""
    program, *rest = container["command"]
    assert not rest, container["command"]
    (script,) = metadata.entry_points(group="console_scripts", name=program)
    assert script.value == "ragagent.cli:main"
    group = typer.main.get_command(cli.app)
    name, *args = container["args"]
    command = group.commands.get(name)  # type: ignore[attr-defined]
    assert command is not None, f"ragagent has no command {name!r}"
    root = typer.Context(group, info_name=program)
    if isinstance(command, typer.core.TyperGroup):  # `index rollout`: its sub-command parses
        sub_name, *rest = args
        sub = command.get_command(root, sub_name)
        assert sub is not None, f"ragagent {name} has no command {sub_name!r}"
        within = typer.Context(command, info_name=name, parent=root)
        parsed = sub.make_context(sub_name, rest, parent=within)
        return ParsedCommand(name, dict(parsed.params), sub_name)
    parsed = command.make_context(name, list(args), parent=root)
    return ParsedCommand(name, dict(parsed.params))
