"""RagAgent: production-grade RAG chat over PostgreSQL + pgvector.

Layers, top to bottom (``pyproject.toml`` holds them as an import-linter contract, and
``make lint`` fails on an upward import): ``cli`` -> ``main`` (app and lifespan) ->
``api`` (HTTP and WebSocket) -> ``state`` (the one ``AppState``) -> ``services`` (a chat
turn, authentication, retention) -> ``rag`` | ``backup`` -> ``db`` (SQL per table) ->
``core`` | ``web`` (settings, pool, models, errors; the static chat page).
"""

import os

# One OpenBLAS thread per calling thread. The agent embeds queries on several worker
# threads at once, and OpenBLAS's own threads (one per core by default) then fight them
# for the same cores. Measured on 2 cores: a query took 46 ms against 18 ms, a 32-chunk
# batch 119 against 80 ms a chunk, and a mixed chat load got half the turns through
# (bench.soak mixed, issue 17). setdefault: a deployment that measured otherwise can set
# it. It has to run before numpy is first imported, which the package's modules do.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
