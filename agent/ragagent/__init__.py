"""RagAgent: production-grade RAG chat over PostgreSQL + pgvector.

Layers, top to bottom (``pyproject.toml`` holds them as an import-linter contract, and
``make lint`` fails on an upward import): ``cli`` -> ``main`` (app and lifespan) ->
``api`` (HTTP and WebSocket) -> ``state`` (the one ``AppState``) -> ``services`` (a chat
turn, authentication, retention) -> ``rag`` | ``backup`` -> ``db`` (SQL per table) ->
``core`` | ``web`` (settings, pool, models, errors; the static chat page).
"""

__version__ = "0.1.0"
