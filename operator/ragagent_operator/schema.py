"""Turn the pydantic API models into a structural OpenAPI v3 schema for the CRD.

We generate instead of hand-writing YAML so that the CRD and the reconciler's
typed view can never disagree.  Pydantic's own JSON Schema is not structural
(``$ref``, ``anyOf`` for optionals), so this small walker maps the handful of
types the API uses and fails loudly on anything else.
"""

from __future__ import annotations

import copy
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from ragagent_operator import spec_base

Schema = dict[str, Any]
_SCALARS: dict[type, str] = {str: "string", int: "integer", bool: "boolean", float: "number"}
_CONSTRAINTS: dict[type, tuple[str, str]] = {
    annotated_types.Ge: ("minimum", "ge"),
    annotated_types.Le: ("maximum", "le"),
    annotated_types.MinLen: ("minLength", "min_length"),
    annotated_types.MaxLen: ("maxLength", "max_length"),
}


class SchemaError(TypeError):
    """A model uses a type or omits a description the generator cannot accept."""


def build_object_schema(model: type[BaseModel], description: str) -> Schema:
    """The structural schema of one model: properties, required list and CEL rules."""
    properties = {
        _wire_name(name, field): build_field_schema(model, name, field)
        for name, field in model.model_fields.items()
    }
    schema: Schema = {"type": "object", "description": description, "properties": properties}
    required = [_wire_name(n, f) for n, f in model.model_fields.items() if f.is_required()]
    if required:
        schema["required"] = required
    rules = getattr(model, "__cel__", [])
    if rules:
        schema["x-kubernetes-validations"] = [{"rule": r, "message": m} for r, m in rules]
    return schema


def build_field_schema(model: type[BaseModel], name: str, field: FieldInfo) -> Schema:
    """One property: type from the annotation, plus description, default and limits."""
    if not field.description:
        raise SchemaError(f"{model.__name__}.{name} has no description")
    schema = _type_schema(field.annotation, field.description)
    for item in field.metadata:
        known = _CONSTRAINTS.get(type(item))
        if known:
            schema[known[0]] = getattr(item, known[1])
    _add_default(schema, field)
    extra = field.json_schema_extra
    if isinstance(extra, dict):
        # A copy: a model used in several places would otherwise share these objects,
        # which YAML then writes as anchors and aliases.
        for key, value in copy.deepcopy(extra).items():
            _merge(schema, key, value)
    return schema


def _merge(schema: Schema, key: str, value: Any) -> None:
    if isinstance(value, dict) and isinstance(schema.get(key), dict):
        schema[key].update(value)
    else:
        schema[key] = value


def _add_default(schema: Schema, field: FieldInfo) -> None:
    """Scalars get their default; sections get their fully defaulted value.

    A section default makes the API server fill nested defaults even when the user
    leaves the whole section out, so ``kubectl get -o yaml`` shows what runs.
    """
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
        if isinstance(value, BaseModel):
            schema["default"] = value.model_dump(mode="json", by_alias=True, exclude_none=True)
        elif schema["type"] == "array":
            schema["default"] = []
    elif field.default is not None and isinstance(field.default, str | int | bool | float):
        schema["default"] = field.default


def _type_schema(annotation: Any, description: str) -> Schema:
    annotation = _strip_optional(annotation)
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *marks = get_args(annotation)
        if any(isinstance(mark, spec_base.FreeFormMarker) for mark in marks):
            return _free_form(description)
        return _type_schema(base, description)
    if origin is Literal:
        return {"type": "string", "description": description, "enum": list(get_args(annotation))}
    if origin is list:
        (item,) = get_args(annotation)
        return {"type": "array", "description": description, "items": _item_schema(item)}
    if origin is dict:
        _, value = get_args(annotation)
        return {
            "type": "object",
            "description": description,
            "additionalProperties": _item_schema(value),
        }
    return _plain_schema(annotation, description)


def _plain_schema(annotation: Any, description: str) -> Schema:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return build_object_schema(annotation, description)
    if annotation in _SCALARS:
        return {"type": _SCALARS[annotation], "description": description}
    raise SchemaError(f"unsupported type {annotation!r}")


def _item_schema(annotation: Any) -> Schema:
    schema = _type_schema(annotation, "item")
    schema.pop("description", None)
    return schema


def _free_form(description: str) -> Schema:
    return {
        "type": "object",
        "description": description,
        "x-kubernetes-preserve-unknown-fields": True,
    }


def _strip_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _wire_name(name: str, field: FieldInfo) -> str:
    return field.alias or name
