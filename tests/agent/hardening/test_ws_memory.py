"""What each open WebSocket and each agent process costs in memory (bench.soak idle-ws).

2,000 idle chat WebSockets on one agent must stay under 300 MiB: the soak measured 316 MiB
before these three changes and 273 MiB after them. Each is checked here on its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect

from ragagent.core import server
from ragagent.core.config import Settings
from ragagent.rag import embeddings
from tests.support import fresh_python
from tests.support.processes import free_port


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(await websocket.receive_text())
    await websocket.close()


@pytest.fixture
def served_port() -> Iterator[int]:
    """A WebSocket echo app under uvicorn, configured exactly as ``ragagent serve`` does."""
    settings = Settings(port=free_port(), metrics_port=0)
    app = Starlette(routes=[WebSocketRoute("/ws", echo)])
    uvicorn_server = uvicorn.Server(server.build_config(app, settings))
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uvicorn_server.started:
        assert thread.is_alive(), "uvicorn exited"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield settings.port
    uvicorn_server.should_exit = True
    thread.join(timeout=30)


async def test_websockets_are_not_compressed_even_when_the_client_offers(
    served_port: int,
) -> None:
    # websockets' client offers permessage-deflate by default, as browsers do; accepting it
    # would give the socket a zlib state of about 40 KiB for its whole life.
    async with connect(f"ws://127.0.0.1:{served_port}/ws") as websocket:
        assert websocket.request is not None
        offered = websocket.request.headers.get("Sec-WebSocket-Extensions", "")
        assert "permessage-deflate" in offered
        assert websocket.response is not None
        assert websocket.response.headers.get("Sec-WebSocket-Extensions") is None
        await websocket.send("ping")
        assert await websocket.recv() == "ping"


def test_the_served_app_imports_no_document_parser_until_a_document_needs_one() -> None:
    # pypdf and python-docx cost an agent about 15 MiB; only one sent a PDF or DOCX pays it.
    probe = "import sys, ragagent.main; print(sorted({'pypdf', 'docx', 'pptx'} & set(sys.modules)))"
    assert fresh_python.run(probe) == "[]"


def test_the_word_embedding_table_is_mapped_from_the_weight_file_not_copied() -> None:
    model = embeddings.LocalMiniLMEmbedder().load()
    assert isinstance(model.weights.word, np.memmap)
    assert not model.weights.word.flags.writeable
    assert model.weights.word.shape == (30522, 384)
    assert not isinstance(model.weights.layers[0].qkv, np.memmap)
