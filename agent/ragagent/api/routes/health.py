"""Probes: ``/livez`` (the process answers), ``/readyz`` and its alias ``/healthz``.

Readiness means this replica can serve a chat now: not draining, the database
answers, its schema is at the latest migration, and at least one LLM provider
answered the last background probe (``rag.fallback``; a probe never waits on one).
Each failing check is named in the 503 body. Probes need no credentials and are
never rate limited; the database check is shared by all
probes within ``readiness_cache_seconds`` (concurrent ones share one check), so
a flood of probes costs the pool at most one check per window. Draining is read
fresh on every probe.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ragagent.core import errors
from ragagent.core.metrics import READINESS_CHECKS
from ragagent.rag import fallback
from ragagent.state import AppState

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_SECONDS = 2.0


class Liveness(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


@router.get("/livez", response_model=Liveness)
async def livez() -> Liveness:
    return Liveness(status="ok")


async def check_database(state: AppState) -> dict[str, str]:
    from ragagent.db import migrate

    READINESS_CHECKS.inc()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await state.db.ping()
            pending = await migrate.pending(state.db)
    except (TimeoutError, OSError, psycopg.Error, errors.AgentError):
        return {"database": "unreachable", "migrations": "unknown"}
    migrations = "at head" if not pending else f"{len(pending)} pending"
    return {"database": "ok", "migrations": migrations}


def check_llm(state: AppState) -> str:
    """The background probe's last answer: not ok only when no provider at all answered.

    Read from memory, never a call: a probe must not wait on an LLM."""
    settings = state.settings
    if settings.resolved_llm_provider == "openai" and not (
        settings.openai_api_key or settings.openai_base_url
    ):
        return "openai provider has no OPENAI_API_KEY or OPENAI_BASE_URL"
    if isinstance(state.llm, fallback.FallbackLLM):
        return state.llm.readiness()
    return "ok"  # the offline answerer is always there


async def readiness(state: AppState | None) -> tuple[bool, dict[str, str]]:
    if state is None:
        return False, {"startup": "not started"}
    checks = {"draining": "yes" if state.draining else "no"}
    ttl = state.settings.readiness_cache_seconds
    checks.update(await state.readiness.get(lambda: check_database(state), ttl=ttl))
    checks["llm"] = check_llm(state)
    ready = (
        not state.draining
        and checks["database"] == "ok"
        and checks["migrations"] == "at head"
        and checks["llm"] == "ok"
    )
    return ready, checks


async def _ready_response(request: Request) -> Any:
    ready, checks = await readiness(AppState.of(request.app))
    body = Readiness(status="ready" if ready else "not ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


_READY_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {"model": Readiness, "description": "Not ready; `checks` names what failed."}
}


@router.get("/readyz", response_model=Readiness, responses=_READY_RESPONSES)
async def readyz(request: Request) -> Any:
    return await _ready_response(request)


@router.get("/healthz", response_model=Readiness, responses=_READY_RESPONSES)
async def healthz(request: Request) -> Any:
    """Alias of /readyz for tools that only know one health URL."""
    return await _ready_response(request)
