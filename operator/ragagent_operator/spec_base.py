"""The conventions of the RagAgent API models, which the CRD generator (``schema.py``) reads.

* every field carries ``description`` (the generator refuses fields without);
* ``FreeForm`` marks Kubernetes types we pass through untouched (resources,
  affinity, ...), rendered as ``x-kubernetes-preserve-unknown-fields``;
* ``__cel__`` on a class lists ``(rule, message)`` pairs for that object, and
  ``json_schema_extra`` on a field adds schema keys such as ``maxItems`` or
  field-level ``x-kubernetes-validations``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class FreeFormMarker:
    """Annotation marker: an object the schema does not describe field by field."""


FreeForm = Annotated[dict[str, Any], FreeFormMarker()]
Cel = list[tuple[str, str]]
# Every Secret reference says the rule that makes edit rights on a RagAgent harmless.
REFERENCED_NAME_DOC = (
    "Name of a Secret in the RagAgent's namespace, labelled ragagent.dev/use=true "
    "(any other is refused: SecretsReady=False/ReferenceNotAllowed)."
)


class ApiModel(BaseModel):
    """Base: camelCase wire names, unknown fields rejected, immutable values."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )
    __cel__: ClassVar[Cel] = []
