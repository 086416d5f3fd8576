"""App assembly: the FastAPI app, its routers and middleware, the lifespan that
creates the shared clients (database, embedder, answerer, limiter, authenticator)
into one ``AppState``, and ``serve``, which runs it under uvicorn."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from ragagent import __version__
from ragagent.api import lifecycle, middleware
from ragagent.api.routes import (
    chat,
    conversations,
    documents,
    health,
    openai,
    retrieve,
    usage,
    users,
    web,
    ws,
)
from ragagent.core import admission, background, errors, poolmetrics, server
from ragagent.core.config import Settings, load_settings
from ragagent.core.db import Database
from ragagent.core.embedded_pg import start_embedded
from ragagent.core.logging import configure_logging
from ragagent.core.ratelimit import Limiter
from ragagent.db import migrate, ratelimit_store
from ragagent.rag import embeddings, fallback, samples
from ragagent.services import auth, budget, budget_gauge, key_expiry, retention
from ragagent.services.chat import ChatService
from ragagent.state import AppState

log = logging.getLogger(__name__)


async def open_database(settings: Settings, stack: AsyncExitStack) -> Database:
    """The configured database, or the embedded one in ``data_dir`` when none is set.

    The embedded server is stopped at shutdown unless another process still
    uses it. pgserver would also stop it at exit, but uvicorn re-raises SIGTERM
    after its shutdown, which ends the process without running exit handlers.
    """
    if settings.database_url is not None:
        url = settings.database_url.get_secret_value()
    else:
        server = await asyncio.to_thread(start_embedded, settings.data_dir)
        stack.push_async_callback(asyncio.to_thread, server.stop)
        url = server.url
    db = await Database.open(url, settings)
    stack.push_async_callback(db.close)
    poolmetrics.watch(db)
    stack.callback(poolmetrics.unwatch, db)
    return db


async def open_state(settings: Settings, stack: AsyncExitStack) -> AppState:
    """Database -> migrations -> embedder -> answerer -> limiter, in that order."""
    db = await open_database(settings, stack)
    applied = await migrate.migrate(db)
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    embedder = await asyncio.to_thread(embeddings.create_embedder, settings)
    answerer = fallback.create_llm(settings)
    if isinstance(answerer, fallback.FallbackLLM):  # the offline answerer holds no client
        stack.push_async_callback(answerer.aclose)
        # Reachability is probed in the background, so /readyz never waits on a provider.
        probe = answerer.probe_forever(settings.llm_probe_interval_seconds)
        await stack.enter_async_context(background.running(probe, name="llm-probe"))
    limiter = await open_limiter(settings, db, stack)
    # Settlements retried in the background are awaited before the pool closes.
    tasks = background.Tasks()
    stack.push_async_callback(tasks.join, budget.SETTLE_AT_SHUTDOWN_SECONDS)
    return AppState(
        settings=settings,
        db=db,
        embedder=embedder,
        llm=answerer,
        limiter=limiter,
        auth=auth.Authenticator(settings, db),
        chat=ChatService(
            settings=settings,
            db=db,
            embedder=embedder,
            llm=answerer,
            budget=budget.Budget(db=db, settings=settings, tasks=tasks),
            admission=admission.Admission(
                limit=settings.chat_max_concurrent_turns,
                wait_seconds=settings.chat_admission_wait_seconds,
            ),
        ),
    )


def limiter_for(settings: Settings, db: Database) -> Limiter:
    """The limiter on the configured storage; postgres counts on the app's pool."""
    if settings.rate_limit_storage == "postgres":
        return Limiter.from_settings(settings, ratelimit_store.PostgresStorage(db=db))
    return Limiter.from_settings(settings)


async def open_limiter(settings: Settings, db: Database, stack: AsyncExitStack) -> Limiter:
    """``limiter_for``, with postgres's expired rows swept while the app runs."""
    if settings.rate_limit_storage == "postgres":
        sweep = ratelimit_store.sweep_forever(db)
        await stack.enter_async_context(background.running(sweep, name="rate-limit-sweep"))
    return limiter_for(settings, db)


async def ingest_samples(state: AppState) -> None:
    """Load the bundled RagAgent docs into an empty knowledge base; never fatal."""
    if not state.settings.ingest_samples_on_start:
        return
    try:
        count = await samples.ingest_samples_if_empty(
            db=state.db, embedder=state.embedder, settings=state.settings
        )
    except errors.EmbeddingModelMismatch as exc:
        log.warning("sample documents not loaded: %s", exc.detail)
        return
    if count:
        log.info("ingested %d sample documents about RagAgent", count)


@asynccontextmanager
async def lifespan(app: FastAPI, *, settings: Settings) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        state = await open_state(settings, stack)
        await ingest_samples(state)
        state.attach(app)
        await state.auth.log_mode()
        await stack.enter_async_context(key_expiry.expiry_gauge(state.db))
        limit = settings.budget_agent_tokens_per_month
        await stack.enter_async_context(budget_gauge.month_gauge(state.db, limit))
        purge = retention.start_retention(state.db, settings.conversation_retention_days)
        log.info("RagAgent %s ready", __version__)
        try:
            yield
        finally:
            await retention.stop_retention(purge)
            AppState.detach(app)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The agent's ASGI app; nothing connects until the lifespan starts."""
    settings = settings or load_settings()
    app = FastAPI(
        title="RagAgent",
        version=__version__,
        description="RAG chat over PostgreSQL + pgvector.",
        lifespan=functools.partial(lifespan, settings=settings),
        # Swagger UI loads from a CDN: not in production unless RAGAGENT_DOCS_ENABLED says so.
        docs_url="/docs" if settings.serves_docs(production=settings.is_production) else None,
        redoc_url=None,
    )
    AppState.detach(app)
    middleware.install(app, settings)
    for module in (health, documents, retrieve, chat, ws, openai, conversations, users, usage, web):
        router: Any = module.router
        app.include_router(router)
    return app


def serve(settings: Settings) -> None:
    """Configure logging and metrics, build the app and serve it until signalled."""
    configure_logging(settings)
    server.start_metrics_server(settings)
    app = create_app(settings)
    drain = functools.partial(lifecycle.drain, app, settings.shutdown_grace_seconds)
    server.serve(app, settings, drain=drain)
