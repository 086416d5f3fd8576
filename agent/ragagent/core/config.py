"""The agent's one typed settings object.

Every field has a default or is required, carries its unit in its description,
and is read from the environment (names below). Secrets are ``SecretStr`` and
may also come from a file named by ``<NAME>_FILE`` (for mounted Kubernetes
Secrets). ``Settings.check_production`` refuses unsafe combinations, listing
every problem at once, so a production pod with a weak configuration never
starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from ragagent.core.answer_settings import AnswerSettings
from ragagent.core.auth_settings import AuthSettings
from ragagent.core.budget_settings import BudgetSettings
from ragagent.core.config_bounds import BoundsSettings
from ragagent.core.database_tls import DatabaseTLSSettings
from ragagent.core.env_lists import CsvList
from ragagent.core.llm_settings import LLMSettings
from ragagent.core.ratelimit_settings import RateLimitSettings
from ragagent.core.transport_settings import TransportSettings

MIN_SECRET_BYTES = 32
# The bundled local embedding model, under its short name and its Hugging Face hub id: two
# spellings of one model (the operator's CRD defaults to the hub id). Here, not in
# rag.embeddings, so the operator can import them without numpy.
LOCAL_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
LOCAL_EMBEDDING_MODEL_NAMES = (
    LOCAL_EMBEDDING_MODEL,
    f"sentence-transformers/{LOCAL_EMBEDDING_MODEL}",
)
LOCAL_EMBEDDING_DIMENSION = 384
# pgvector's HNSW index takes a vector column of at most 2000 dimensions, and retrieval
# needs that index; a larger model must be shortened (OpenAI's text-embedding-3 can be).
MAX_EMBEDDING_DIMENSION = 2000


def _env(*names: str) -> AliasChoices:
    """Accept the RAGAGENT_-prefixed name first, then conventional bare names."""
    return AliasChoices(*names)


class FileSecretsSource(PydanticBaseSettingsSource):
    """Reads ``<ENV_NAME>_FILE`` for every field, so Secrets can be mounted as files.

    The file's content wins over nothing but loses to a direct env variable, which
    keeps local overrides easy. A trailing newline (as ``kubectl create secret``
    and editors leave) is stripped.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        for name in field_env_names(field, field_name):
            path = os.environ.get(f"{name}_FILE")
            if path:
                return _read_secret_file(name, path), field_name, False
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, field_name)
            if value is not None:
                values[key] = value
        return values


def _read_secret_file(name: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"{name}_FILE: cannot read {path}: {exc.strerror}") from None


def field_env_names(field: FieldInfo, field_name: str) -> list[str]:
    """The variables that set ``field``, in the order the agent reads them (first wins)."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [f"RAGAGENT_{field_name.upper()}"]


class Settings(
    AuthSettings,
    BoundsSettings,
    DatabaseTLSSettings,
    TransportSettings,
    LLMSettings,
    AnswerSettings,
    RateLimitSettings,
    BudgetSettings,
):
    """All agent settings. Env names are ``RAGAGENT_<FIELD>`` unless noted.

    These are the settings of the programs that sign or verify credentials (the server
    and ``ragagent apikey``); ``DataSettings`` are those of the commands that only move data.
    """

    # Whether the program signs or verifies credentials (API-key hashes, JWTs), and so
    # needs a strong RAGAGENT_SECRET_KEY in production. A class attribute, not a field: no
    # environment variable can switch the check off.
    signs_credentials: ClassVar[bool] = True

    model_config = SettingsConfigDict(
        env_prefix="RAGAGENT_",
        extra="ignore",
        populate_by_name=True,
        frozen=True,
        # pydantic echoes raw input in errors; that input can hold secrets.
        hide_input_in_errors=True,
    )

    # --- runtime -------------------------------------------------------------
    environment: Literal["development", "production"] = Field(
        "development",
        validation_alias=_env("RAGAGENT_ENVIRONMENT", "ENVIRONMENT"),
        description="development allows embedded defaults; production enforces safety checks.",
    )
    debug: bool = Field(
        False,
        validation_alias=_env("RAGAGENT_DEBUG", "DEBUG"),
        description="Verbose errors in logs. Refused in production.",
    )
    host: str = Field("127.0.0.1", description="Interface the API listens on.")
    port: int = Field(8000, ge=1, le=65535, description="API port.")
    metrics_port: int = Field(
        9090, ge=0, le=65535, description="Separate Prometheus port; 0 disables it."
    )
    data_dir: Path = Field(
        Path(".data"), description="Embedded PostgreSQL data and local state (directory)."
    )
    log_level: str = Field(
        "INFO",
        validation_alias=_env("RAGAGENT_LOG_LEVEL", "LOG_LEVEL"),
        pattern=r"(?i)^(debug|info|warning|error|critical)$",
        description="Log level: debug, info, warning, error or critical.",
    )
    log_format: Literal["json", "pretty", "auto"] = Field(
        "auto", description="auto means JSON in production and pretty in development."
    )
    shutdown_grace_seconds: float = Field(
        20.0, gt=0, description="Seconds to drain requests and close WebSockets on SIGTERM."
    )

    # --- database ------------------------------------------------------------
    database_url: SecretStr | None = Field(
        None,
        validation_alias=_env("RAGAGENT_DATABASE_URL", "DATABASE_URL"),
        description="PostgreSQL with pgvector. Unset means embedded PostgreSQL in data_dir.",
    )
    db_pool_min_size: int = Field(1, ge=0, description="Minimum pooled connections.")
    db_pool_max_size: int = Field(10, ge=1, description="Maximum pooled connections.")
    db_pool_timeout_seconds: float = Field(
        5.0, gt=0, description="Seconds to wait for a pooled connection before answering 503."
    )

    # --- embeddings ----------------------------------------------------------
    embedding_provider: Literal["local", "openai"] = Field(
        "local", description="local runs all-MiniLM-L6-v2 on CPU; openai calls the embeddings API."
    )
    embedding_model: str = Field(
        LOCAL_EMBEDDING_MODEL,
        description="Embedding model name (recorded with every index); the local provider "
        "accepts all-MiniLM-L6-v2 or sentence-transformers/all-MiniLM-L6-v2.",
    )
    embedding_dimension: int = Field(
        LOCAL_EMBEDDING_DIMENSION,
        ge=8,
        le=MAX_EMBEDDING_DIMENSION,
        description="Vector dimension of the embedding model; at most 2000 (pgvector's HNSW).",
    )
    embedding_batch_size: int = Field(32, ge=1, le=1024, description="Texts per embedding call.")
    model_dir: Path | None = Field(
        None,
        description="Directory of the extracted local embedding model (images bake it in); "
        "unset means ${XDG_CACHE_HOME:-~/.cache}/ragagent/models.",
    )

    # --- LLM: the provider fields are in LLMSettings (llm_settings.py) ---------

    # --- chunking and retrieval ---------------------------------------------
    chunk_size: int = Field(800, ge=100, le=20000, description="Target chunk size (characters).")
    chunk_overlap: int = Field(120, ge=0, description="Overlap between chunks (characters).")
    retrieval_top_k: int = Field(5, ge=1, le=100, description="Chunks given to the answerer.")
    retrieval_candidates: int = Field(
        40, ge=1, le=1000, description="Candidates per method before fusion."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    history_max_turns: int = Field(10, ge=0, description="Past turns considered for context.")
    history_token_budget: int = Field(
        1500, ge=0, description="Token budget for conversation history in a prompt."
    )
    ingest_samples_on_start: bool = Field(
        True, description="Ingest the bundled RagAgent docs when the database is empty."
    )

    # --- input limits --------------------------------------------------------
    max_message_bytes: int = Field(8192, ge=1, description="Largest chat message (bytes).")
    max_document_bytes: int = Field(
        5 * 1024 * 1024, ge=1, description="Largest ingested document (bytes)."
    )
    max_request_body_bytes: int = Field(
        6 * 1024 * 1024, ge=1, description="Largest HTTP request body (bytes)."
    )
    max_ws_frame_bytes: int = Field(
        65536, ge=1, description="Largest WebSocket frame (bytes); larger closes with 1009."
    )
    max_turns_per_conversation: int = Field(
        500, ge=1, description="Messages kept per conversation before new turns are refused."
    )

    # --- security ------------------------------------------------------------
    # The credential fields (secret_key, jwt_*, auth_disabled) are in AuthSettings.
    cors_allowed_origins: CsvList = Field(
        default_factory=list, description="Exact origins allowed by CORS; empty means none."
    )
    trusted_hosts: CsvList = Field(
        default_factory=lambda data: list(_default_hosts(data.get("environment"))),
        description="Accepted Host headers. Unset: any in development; in production only "
        "localhost and 127.0.0.1 (the operator always lists the agent's names).",
    )
    # '*' lets any Host through, so a DNS-rebinding page or a forged Host reaches the API:
    # production refuses it unless someone chose it on purpose (the operator never does).
    trusted_hosts_allow_any: bool = Field(
        False, description="Accept '*' in RAGAGENT_TRUSTED_HOSTS in production."
    )

    # The rate-limit fields (limits, token budget, storage) are in RateLimitSettings.

    # --- retention -----------------------------------------------------------
    conversation_retention_days: int | None = Field(
        None, ge=1, description="Purge conversations older than this many days; unset keeps all."
    )

    # --- tracing -------------------------------------------------------------
    otlp_endpoint: str | None = Field(
        None,
        validation_alias=_env("OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="OTLP/HTTP endpoint for traces; unset turns tracing off. The OpenTelemetry "
        "SDK reads it (and the other OTEL_* variables) itself, so only the standard name counts.",
    )

    @model_validator(mode="after")
    def _check(self) -> Settings:
        problems = self.problems()
        if problems:
            raise ValueError("unsafe configuration: " + "; ".join(problems))
        return self

    def problems(self) -> list[str]:
        """Every reason this configuration must not start, all at once."""
        found = []
        if self.chunk_overlap >= self.chunk_size:
            found.append("RAGAGENT_CHUNK_OVERLAP must be smaller than RAGAGENT_CHUNK_SIZE")
        if self.signs_credentials:  # the data commands verify nothing (and get no keys)
            found.extend(self.auth_problems())
        if self.is_production:
            found.extend(self._production_problems())
        return found

    def _production_problems(self) -> list[str]:
        found = []
        secret = self.secret_key.get_secret_value() if self.secret_key else ""
        if self.signs_credentials and len(secret.encode()) < MIN_SECRET_BYTES:
            found.append(f"RAGAGENT_SECRET_KEY must be set and at least {MIN_SECRET_BYTES} bytes")
        if self.debug:
            found.append("DEBUG must be off in production")
        if any("*" in origin for origin in self.cors_allowed_origins):
            found.append("RAGAGENT_CORS_ALLOWED_ORIGINS must not contain a wildcard")
        any_host = not self.trusted_hosts or "*" in self.trusted_hosts  # empty means '*'
        if self.signs_credentials and any_host and not self.trusted_hosts_allow_any:
            found.append(
                "RAGAGENT_TRUSTED_HOSTS must list the agent's host names in production, not '*' "
                "(set RAGAGENT_TRUSTED_HOSTS_ALLOW_ANY=true to accept any Host on purpose)"
            )
        if self.auth_disabled:
            found.append("RAGAGENT_AUTH_DISABLED must not be set in production")
        found.extend(self.database_tls_problems(self.database_url))
        return found

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, FileSecretsSource(settings_cls))


def _default_hosts(environment: object) -> tuple[str, ...]:
    """The Host headers accepted when RAGAGENT_TRUSTED_HOSTS is unset."""
    return ("localhost", "127.0.0.1") if environment == "production" else ("*",)


class DataSettings(Settings):
    """Settings of the commands that only move data: migrate, ingest, reindex, backup,
    restore and purge-conversations. They never see a credential, so production asks them
    for no signing secret; every other check stands."""

    signs_credentials: ClassVar[bool] = False


# ``ragagent`` commands by what they do with credentials (``apikey`` covers its subcommands).
SIGNING_COMMANDS = frozenset({"serve", "apikey"})
DATA_COMMANDS = frozenset(
    {
        "migrate",
        "ingest",
        "sync",
        "reindex",
        "index",
        "backup",
        "restore",
        "purge-conversations",
        "usage",
    }
)


def settings_class(command: str) -> type[Settings]:
    """The settings ``ragagent <command>`` loads; KeyError for a command listed in neither set,
    so a new command must say whether it signs credentials."""
    if command in SIGNING_COMMANDS:
        return Settings
    if command in DATA_COMMANDS:
        return DataSettings
    raise KeyError(f"ragagent {command}: not listed in SIGNING_COMMANDS or DATA_COMMANDS")


class ConfigError(Exception):
    """The configuration is invalid; the message lists every problem, never a value."""


def load_settings(settings_cls: type[Settings] = Settings, /, **overrides: Any) -> Settings:
    """Build ``settings_cls`` (Settings unless a command needs less), turning validation
    errors into a ConfigError without inputs.

    pydantic's own ValidationError repeats the raw input, which can contain
    secrets, so it must never reach a log or a terminal as is.
    """
    try:
        return settings_cls(**overrides)
    except ValidationError as exc:
        lines = [_describe(error) for error in exc.errors(include_input=False, include_url=False)]
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(lines)) from None


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()))
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
