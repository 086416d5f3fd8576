"""The retrieve resource: hybrid search without an answer, so retrieval quality
can be measured on its own (``make eval`` uses it)."""

from __future__ import annotations

from fastapi import APIRouter

from ragagent.api.deps import ChatUser, StateDep
from ragagent.api.document_schemas import RetrievedChunkPublic, RetrieveRequest, RetrieveResponse
from ragagent.core import errors
from ragagent.rag import retrieval

router = APIRouter(prefix="/v1/retrieve", tags=["retrieve"])


@router.post("", response_model=RetrieveResponse, responses={409: {}, 422: {}, 503: {}})
async def retrieve(body: RetrieveRequest, state: StateDep, _: ChatUser) -> RetrieveResponse:
    """Ranked chunks for ``query``, each with its document's identity and metadata."""
    settings = state.settings
    if len(body.query.encode()) > settings.max_message_bytes:
        raise errors.ValidationFailed(f"query longer than {settings.max_message_bytes} bytes")
    if not body.query.strip():
        raise errors.ValidationFailed("query is empty")
    flt = body.filter
    chunks = await retrieval.retrieve(
        db=state.db,
        embedder=state.embedder,
        query=body.query,
        top_k=body.top_k or settings.retrieval_top_k,
        candidates=max(settings.retrieval_candidates, body.top_k or 0),
        rrf_k=settings.rrf_k,
        filter=retrieval.RetrievalFilter(flt.source, flt.metadata) if flt else None,
    )
    results = [RetrievedChunkPublic.model_validate(c, from_attributes=True) for c in chunks]
    return RetrieveResponse(results=results)
