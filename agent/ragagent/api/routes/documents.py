"""The documents resource: ingest, list, read and delete knowledge-base documents.

``POST /v1/documents`` takes either a JSON ``DocumentCreate`` or a raw body
whose Content-Type is text/plain, text/markdown, text/html, application/pdf or the
DOCX or PPTX type (then ``external_id``, ``title`` and ``source`` come from the query string).
Files go as raw bytes rather than base64 inside JSON: the same form as the text
types, a third smaller, and within the same body limit; a file's title defaults to its
own title, else the last segment of ``external_id`` (``report.pdf``).
``{id}`` is the document's external_id (it may contain slashes, as file paths
from ``ragagent ingest`` do), or its numeric id when no document has that
external_id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from ragagent.api.deps import ChatUser, IngestUser, StateDep
from ragagent.api.document_schemas import DocumentCreate, DocumentList, DocumentPublic, IngestPublic
from ragagent.core import errors, models
from ragagent.db import documents as doc_sql
from ragagent.rag import ingest, parsing

router = APIRouter(prefix="/v1/documents", tags=["documents"])

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/DocumentCreate"}},
            **{
                media: {"schema": {"type": "string"}}
                for media in parsing.CONTENT_TYPES
                if media not in parsing.FILE_TYPES
            },
            **{
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in parsing.FILE_TYPES
            },
        },
    }
}


@router.post(
    "",
    status_code=201,
    response_model=IngestPublic,
    openapi_extra=_BODY_DOC,
    responses={200: {"description": "Updated or unchanged"}, 415: {}, 413: {}, 422: {}},
)
async def create_document(
    request: Request,
    response: Response,
    state: StateDep,
    _: IngestUser,
    external_id: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
    title: Annotated[str | None, Query(max_length=300)] = None,
    source: Annotated[str | None, Query(max_length=512)] = None,
) -> IngestPublic:
    """Ingest one document; 201 when created, 200 when updated or unchanged."""
    doc = await read_document(request, external_id=external_id, title=title, source=source)
    [result] = await ingest.ingest_documents(
        db=state.db, embedder=state.embedder, settings=state.settings, docs=[doc]
    )
    response.status_code = 201 if result.outcome == "created" else 200
    return IngestPublic.model_validate(result, from_attributes=True)


async def read_document(
    request: Request, *, external_id: str | None, title: str | None, source: str | None
) -> models.DocumentInput:
    """The request body as a DocumentInput, whichever of the accepted forms it uses."""
    media = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    body = await request.body()
    if media == "application/json":
        return _from_json(body)
    content_type = parsing.normalise_content_type(request.headers.get("content-type"))
    if content_type in parsing.FILE_TYPES:
        return models.FileInput(
            data=body,
            content_type=content_type,
            external_id=external_id,
            title=title,
            source=source,
        )
    text = _decode(body, request.headers.get("content-type") or "")
    return models.DocumentInput(
        text=text, content_type=content_type, external_id=external_id, title=title, source=source
    )


def _from_json(body: bytes) -> DocumentCreate:
    try:
        return DocumentCreate.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_input=False, include_url=False)) from None


def _decode(body: bytes, content_type: str) -> str:
    charset = "utf-8"
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip('"').lower()
    try:
        return body.decode(charset)
    except (LookupError, UnicodeDecodeError):
        raise errors.ValidationFailed(f"the body is not valid {charset} text") from None


@router.get("", response_model=DocumentList)
async def list_documents(
    state: StateDep,
    _: ChatUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    source: Annotated[str | None, Query(max_length=512)] = None,
) -> DocumentList:
    """Documents, newest first."""
    async with state.db.connection() as conn:
        rows, total = await doc_sql.list_documents(conn, limit=limit, offset=offset, source=source)
    items = [DocumentPublic.model_validate(row, from_attributes=True) for row in rows]
    return DocumentList(items=items, total=total, limit=limit, offset=offset)


@router.get("/{document_id:path}", response_model=DocumentPublic, responses={404: {}})
async def get_document(document_id: str, state: StateDep, _: ChatUser) -> DocumentPublic:
    async with state.db.connection() as conn:
        row = await doc_sql.get_document(conn, document_id)
    if row is None:
        raise errors.NotFound("no such document")
    return DocumentPublic.model_validate(row, from_attributes=True)


@router.delete("/{document_id:path}", status_code=204, responses={404: {}})
async def delete_document(document_id: str, state: StateDep, _: IngestUser) -> Response:
    """Delete a document and its chunks."""
    async with state.db.connection() as conn:
        row = await doc_sql.get_document(conn, document_id)
        if row is None:
            raise errors.NotFound("no such document")
        await doc_sql.delete_document(conn, row.id)
    return Response(status_code=204)
