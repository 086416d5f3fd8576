"""The long-lived objects one agent process shares between requests.

Created once in ``main.lifespan`` and stored at ``app.state.ragagent``; routes
reach it through ``api.deps.StateDep``. Nothing here is created at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ragagent.core.config import Settings
    from ragagent.core.db import Database
    from ragagent.core.ratelimit import Limiter
    from ragagent.rag.types import LLM, Embedder


@dataclass
class AppState:
    settings: Settings
    db: Database
    embedder: Embedder
    llm: LLM
    limiter: Limiter
    # Flipped on SIGTERM: /readyz turns 503 and new work is refused while in-flight drains.
    draining: bool = field(default=False)
