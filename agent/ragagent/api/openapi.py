"""The published OpenAPI document, made to tell the truth about errors.

FastAPI documents only 200 and a JSON 422, but every operation can answer
with our ``application/problem+json`` errors (401/403/404/413/429 and 503
from auth, limits, size caps, draining and outages). This rewrites the
generated schema once: a shared ``Problem`` component, the 422 as a problem,
and ``4XX``/``503`` responses on every operation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi.openapi.utils import get_openapi

from ragagent.api.problems import PROBLEM_JSON

if TYPE_CHECKING:
    from fastapi import FastAPI

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail", "instance", "request_id"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                },
            },
        },
    },
}
_METHODS = {"get", "post", "put", "patch", "delete"}


def build_problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}


def build_error_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite ``schema`` in place so every operation documents its problem responses."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if method in _METHODS:
                _document_errors(operation.setdefault("responses", {}))
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def _document_errors(responses: dict[str, Any]) -> None:
    responses["422"] = build_problem_response("Validation failed")
    responses.setdefault("4XX", build_problem_response("Client error (see `title`)"))
    responses.setdefault("503", build_problem_response("Unavailable; retry after Retry-After"))
    for status, response in responses.items():
        if (
            status[0] in "45"
            and status not in ("422", "4XX", "503")
            and not response.get("content")
        ):
            responses[status] = build_problem_response(response.get("description", "Error"))


def install_openapi(app: FastAPI) -> None:
    """Replace ``app.openapi`` with a cached generator that applies the rewrite."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = build_error_responses(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
