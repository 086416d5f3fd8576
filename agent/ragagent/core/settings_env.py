"""The agent's settings as environment variables: the names it reads and values it parses back.

This is the contract for whoever configures the agent from outside, above all the
operator, which renders every pod's environment as ``{field: value}`` through
``build_env`` instead of typing variable names. A renamed or misspelt field then
fails where the pod is rendered, not as a silent default in a running pod.

Import-light on purpose: the operator's image installs this package without its
dependencies, so nothing here may import more than pydantic and pydantic-settings
(a test holds that).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import SecretStr

from ragagent.core.config import Settings, field_env_names

Scalar = str | int | float | bool | Path
EnvValue = Scalar | Sequence[str]


def env_name(field: str) -> str:
    """The variable the agent reads first for Settings field ``field`` (an alias outranks
    the bare name: RAGAGENT_ENVIRONMENT, not ENVIRONMENT, which the image also sets).

    Raises KeyError when ``field`` is no Settings field.
    """
    info = Settings.model_fields.get(field)
    if info is None:
        raise KeyError(f"{field!r} is not a ragagent setting")
    return field_env_names(info, field)[0]


def is_secret(field: str) -> bool:
    """True for fields holding a secret; those reach a pod by Secret reference only."""
    annotation = Settings.model_fields[field].annotation
    return annotation is SecretStr or SecretStr in getattr(annotation, "__args__", ())


def build_env(values: Mapping[str, EnvValue]) -> dict[str, str]:
    """``{field: value}`` as ``{variable: text}`` the agent parses back to the same value.

    Booleans are ``true``/``false``, lists comma-separated. Raises KeyError for an
    unknown field and ValueError for a secret field or a value the agent could not read
    back (None, a list item holding a comma): leave an unset field out instead.
    """
    env: dict[str, str] = {}
    for field, value in values.items():
        name = env_name(field)
        if is_secret(field):
            raise ValueError(f"{field} is a secret: pass it by Secret reference, not as a value")
        env[name] = _text(field, value)
    return env


def _text(field: str, value: EnvValue | None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float | Path):
        return str(value)
    if isinstance(value, Sequence) and all(isinstance(item, str) for item in value):
        if any("," in item for item in value):
            raise ValueError(f"{field}: list items cannot hold a comma")
        return ",".join(value)
    raise ValueError(f"{field}: cannot write {type(value).__name__} as an env value")
