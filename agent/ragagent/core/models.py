"""Plain data that every layer shares: chat turns and embedding vectors.

Nothing here does I/O or imports another agent module, so the database layer
can return these types and the API can publish them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ChatTurn:
    """One earlier message of a conversation, as the answerer sees it."""

    role: Literal["user", "assistant", "system"]
    content: str
