"""The operator's own settings: one typed object read from RAGAGENT_OPERATOR_* env vars."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ragagent.core.env_lists import CsvList


class OperatorSettings(BaseSettings):
    """Everything the operator process can be told; every field has a safe default."""

    model_config = SettingsConfigDict(env_prefix="RAGAGENT_OPERATOR_", frozen=True)

    namespaces: CsvList = Field(
        default_factory=list,
        description="Namespaces to watch (comma-separated); empty means the whole cluster.",
    )
    default_image: str = Field(
        "ghcr.io/ragagent/ragagent:0.1.0", description="Agent image when spec.image is unset."
    )
    monitoring_namespace: str = Field(
        "monitoring", description="Namespace whose pods may scrape the agents' metrics port."
    )
    secrets_provider: Literal["sealedSecrets", "kubernetes"] = Field(
        "sealedSecrets",
        description="Provider when spec.secrets.provider is unset; kubernetes is plain Secrets.",
    )
    sealed_secrets_namespace: str = Field(
        "kube-system", description="Namespace of the sealed-secrets controller."
    )
    sealed_secrets_service: str = Field(
        "sealed-secrets-controller", description="Service of the sealed-secrets controller."
    )
    sealed_secrets_cert_file: str | None = Field(
        None, description="PEM certificate to seal with instead of fetching it (file path)."
    )
    sealed_secrets_cert_sha256: str | None = Field(
        None,
        description="Pin: SHA-256 (hex, colons allowed) of the sealing certificate's DER; "
        "another certificate is refused and nothing is sealed. Unset trusts any valid one.",
    )
    peering: str | None = Field(
        "ragagent", description="kopf cluster peering name for HA; None runs standalone."
    )
    priority: int = Field(0, description="kopf peering priority of this replica.")
    peering_lifetime_seconds: int = Field(
        60,
        ge=10,
        description="Seconds a replica's peering record stays valid without a keep-alive: how "
        "long a standby waits before taking over from a replica that died without saying so.",
    )
    resync_seconds: float = Field(
        60.0, gt=0, description="Interval of the periodic reconcile (drift, status) in seconds."
    )
    metrics_port: int = Field(8080, ge=0, le=65535, description="Prometheus port; 0 disables.")
    health_port: int = Field(8081, ge=0, le=65535, description="Liveness port; 0 disables.")
    log_level: str = Field("INFO", description="Operator log level.")
    log_format: Literal["json", "plain"] = Field("json", description="Log line format.")
    cluster_domain: str = Field("cluster.local", description="DNS suffix for status endpoints.")
    backup_image: str | None = Field(
        None, description="Image for backup and ingest Jobs; unset uses the agent image."
    )

    @field_validator("sealed_secrets_cert_sha256")
    @classmethod
    def _fingerprint(cls, value: str | None) -> str | None:
        if not value:
            return None
        pin = value.replace(":", "").strip().lower()
        if len(pin) != 64 or any(char not in "0123456789abcdef" for char in pin):
            raise ValueError("a SHA-256 fingerprint is 64 hex digits (colons allowed)")
        return pin
