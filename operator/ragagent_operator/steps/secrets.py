"""Reconcile steps for secrets: generated values (sealed or plain), the sealed LLM key,
and the data hash of every referenced Secret (which rolls the pods when it changes)."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

from ragagent.core import database_tls
from ragagent_operator import conditions, context, k8s, manifest, metrics, sealing
from ragagent_operator import constants as c
from ragagent_operator.render import common, postgres, secrets

log = logging.getLogger(__name__)
SEALED_GV = "bitnami.com/v1alpha1"
CERT_TTL_SECONDS = 600.0
_cert_cache: dict[str, tuple[float, bytes]] = {}
NOT_MARKED = f"not labelled {c.LABEL_USE}={c.LABEL_USE_VALUE} (what lets a RagAgent reference it)"


async def ensure_secrets(ctx: context.Context) -> None:
    if ctx.agent.secrets_provider == "kubernetes":
        await _ensure_plain(ctx)
    elif not await k8s.group_version_exists(ctx.api, SEALED_GV):
        ctx.note(
            conditions.Type.SECRETS_READY,
            False,
            conditions.Reason.SEALED_SECRETS_CRD_MISSING,
            "install sealed-secrets, or set spec.secrets.provider: kubernetes",
        )
    else:
        await _ensure_sealed(ctx)
    await _hash_referenced(ctx)


def _missing_keys(agent_keys: list[str], existing: set[str]) -> list[str]:
    """Keys to generate. The DB password and URL travel together: one without the other is
    unusable, and they are only ever missing together before the database first starts."""
    missing = [key for key in agent_keys if key not in existing]
    if c.KEY_DB_PASSWORD in missing or c.KEY_DATABASE_URL in missing:
        missing = sorted({*missing, c.KEY_DB_PASSWORD, c.KEY_DATABASE_URL} & set(agent_keys))
    return missing


def _generate(ctx: context.Context, keys: list[str]) -> dict[str, bytes]:
    values: dict[str, bytes] = {}
    for key in keys:
        values[key] = sealing.generate_token(48 if key == c.KEY_SECRET_KEY else 24)
    if c.KEY_DB_PASSWORD in values:
        url = postgres.build_database_url(ctx.agent, values[c.KEY_DB_PASSWORD].decode())
        values[c.KEY_DATABASE_URL] = url.encode()
    return values


async def _ensure_plain(ctx: context.Context) -> None:
    agent = ctx.agent
    name = secrets.generated_secret_name(agent)
    live = await k8s.get(ctx.api, "v1", "Secret", agent.namespace, name)
    existing = {k: base64.b64decode(v) for k, v in ((live or {}).get("data") or {}).items()}
    missing = _missing_keys(secrets.generated_keys(agent), set(existing))
    values = {**existing, **_generate(ctx, missing)}
    await ctx.ensure(secrets.build_plain_secret(agent, name, values))


async def _ensure_sealed(ctx: context.Context) -> None:
    agent = ctx.agent
    name = secrets.generated_secret_name(agent)
    live = await k8s.get(ctx.api, SEALED_GV, "SealedSecret", agent.namespace, name)
    existing = dict(((live or {}).get("spec") or {}).get("encryptedData") or {})
    missing = _missing_keys(secrets.generated_keys(agent), set(existing))
    # Fetched (cached) even when nothing needs sealing, so that the expiry gauge exists after
    # a restart and follows a rotated certificate.
    cert = await _read_sealing_cert(ctx)
    if missing:
        if cert is None:
            ctx.note(
                conditions.Type.SECRETS_READY,
                False,
                conditions.Reason.SEALED_SECRETS_CONTROLLER_UNAVAILABLE,
                "cannot fetch the sealed-secrets certificate to seal generated values",
            )
            return
        pin = ctx.settings.sealed_secrets_cert_sha256
        try:
            sealing.check_certificate(cert, now=datetime.now(UTC), pin=pin)
        except sealing.CertificateRefused as exc:
            ctx.note(conditions.Type.SECRETS_READY, False, exc.reason, str(exc))
            return
        fresh = sealing.seal_values(
            cert, namespace=agent.namespace, name=name, values=_generate(ctx, missing)
        )
        existing.update(fresh)
    await _ensure_sealed_secret(ctx, name, existing)
    api_key = agent.spec.model.api_key
    if api_key is not None and api_key.sealed is not None:
        encrypted = {c.KEY_LLM_API_KEY: api_key.sealed.encrypted_value}
        await _ensure_sealed_secret(ctx, secrets.llm_secret_name(agent), encrypted)


async def _ensure_sealed_secret(ctx: context.Context, name: str, encrypted: dict[str, str]) -> None:
    """Apply one SealedSecret and remember its ciphertexts for the pod-template hash."""
    await ctx.ensure(secrets.build_sealed_secret(ctx.agent, name, encrypted))
    ctx.sealed[name] = dict(sorted(encrypted.items()))


async def _read_sealing_cert(ctx: context.Context) -> bytes | None:
    """The controller's certificate (its expiry exported as a gauge for the alert)."""
    cert = await _fetch_sealing_cert(ctx)
    if cert is not None:
        settings = ctx.settings
        gauge = metrics.SEALING_CERT_EXPIRY.labels(
            settings.sealed_secrets_namespace, settings.sealed_secrets_service
        )
        gauge.set(sealing.cert_expiry(cert).timestamp())
    return cert


async def _fetch_sealing_cert(ctx: context.Context) -> bytes | None:
    """From the configured file, else via the service proxy (cached for CERT_TTL_SECONDS)."""
    settings = ctx.settings
    if settings.sealed_secrets_cert_file:
        return await asyncio.to_thread(Path(settings.sealed_secrets_cert_file).read_bytes)
    cached = _cert_cache.get("cert")
    if cached and time.monotonic() - cached[0] < CERT_TTL_SECONDS:
        return cached[1]
    path = (
        f"/api/v1/namespaces/{settings.sealed_secrets_namespace}/services/"
        f"http:{settings.sealed_secrets_service}:/proxy/v1/cert.pem"
    )
    try:
        text = await k8s.get_text(ctx.api, path)
    except k8s.ApiError as exc:
        log.warning("sealed-secrets certificate unavailable: %s", exc)
        return None
    if text is None:
        return None
    _cert_cache["cert"] = (time.monotonic(), text.encode())
    return text.encode()


async def _read_referenced(ctx: context.Context, name: str) -> dict[str, object] | None:
    """A referenced Secret. A fresh RagAgent's unsealed Secrets are not asked for: their
    SealedSecrets were applied a moment ago, and the next resync hashes them once they exist."""
    agent = ctx.agent
    if name in _unsealed_by_controller(agent):
        return await ctx.get("v1", "Secret", name)
    return await k8s.get(ctx.api, "v1", "Secret", agent.namespace, name)


def _unsealed_by_controller(agent: common.Agent) -> set[str]:
    """The Secrets the sealed-secrets controller makes from the operator's SealedSecrets."""
    if agent.secrets_provider != "sealedSecrets":
        return set()
    return {secrets.generated_secret_name(agent), secrets.llm_secret_name(agent)}


def build_secrets_condition(
    referenced: int, missing: list[str], unsealed: set[str]
) -> tuple[bool, str, str]:
    """(status, reason, message) of SecretsReady. Only Secrets the controller is still to
    unseal are a routine wait; a missing Secret the user named is theirs to create."""
    if not missing:
        return True, conditions.Reason.SECRETS_PRESENT, f"{referenced} referenced Secrets present"
    waiting = set(missing) <= unsealed
    reason = conditions.Reason.WAITING_FOR_UNSEAL if waiting else conditions.Reason.SECRET_NOT_FOUND
    return False, reason, "missing Secrets: " + ", ".join(missing)


def build_database_tls_problem(agent: common.Agent, data: dict[str, object]) -> str | None:
    """Why the agent would refuse the external database URL in ``data`` (the referenced
    Secrets' data, by name) for its TLS; None when it would not, or when there is none."""
    external = agent.spec.database.external
    if external is None or external.tls_waived:
        return None
    values = data.get(external.secret_ref.name)
    encoded = values.get(external.secret_ref.key) if isinstance(values, dict) else None
    if not isinstance(encoded, str):
        return None  # a missing Secret or key is DatabaseSecretMissing, or the agent's to say
    try:
        url = base64.b64decode(encoded).decode()
    except ValueError:  # UnicodeDecodeError and binascii.Error are ValueErrors
        url = ""
    found = database_tls.build_tls_problems(database_tls.parse_conninfo(url))
    if not found:
        return None
    where = f"Secret {external.secret_ref.name} key {external.secret_ref.key}"
    return f"{where}: {'; '.join(found)}; or set spec.database.external.tlsWaived: true"


async def _hash_referenced(ctx: context.Context) -> None:
    """Hash the data of every Secret the pods read; note which are missing."""
    agent = ctx.agent
    data: dict[str, object] = {}
    for ref in secrets.secret_refs(agent):
        if ref.secret not in data:
            live = await _read_referenced(ctx, ref.secret)
            data[ref.secret] = None if live is None else live.get("data") or {}
            if live is not None and not manifest.is_marked_for_use(live):
                ctx.refused.append(manifest.describe({**live, "kind": "Secret"}))
    if ctx.refused:
        message = f"{', '.join(ctx.refused)}: {NOT_MARKED}; no pod that reads it is written"
        ctx.note(conditions.Type.SECRETS_READY, False, conditions.Reason.REFERENCE_NOT_ALLOWED,
                 message)  # fmt: skip
    ctx.database_tls_problem = build_database_tls_problem(agent, data)
    missing = sorted(name for name, value in data.items() if value is None)
    # A Secret the operator seals is hashed by its ciphertexts, not by the unsealed copy: that
    # changes exactly when its values do, and does not depend on when the controller unseals
    # it, so a new RagAgent's pods are not rolled a second time once its Secrets appear.
    sealed = ctx.sealed
    hashed = {name: {"sealed": sealed[name]} if name in sealed else value
              for name, value in data.items()}  # fmt: skip
    ctx.secrets_hash = manifest.stable_hash(hashed)
    ctx.missing_secrets = missing
    unsealed = _unsealed_by_controller(agent)
    ctx.note(conditions.Type.SECRETS_READY, *build_secrets_condition(len(data), missing, unsealed))
