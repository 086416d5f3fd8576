"""List settings written as one comma-separated environment variable.

The agent's settings and the operator's share this one type, so both read
``RAGAGENT_TRUSTED_HOSTS=a,b`` (and every other list) the same way. Import-light:
the operator's image imports it without the agent's dependencies.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_settings import NoDecode


def split_csv(value: Any) -> Any:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``; a list (from code or JSON) stays as it is."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


# NoDecode: pydantic-settings would otherwise parse a list variable as JSON.
CsvList = Annotated[list[str], NoDecode, BeforeValidator(split_csv)]
