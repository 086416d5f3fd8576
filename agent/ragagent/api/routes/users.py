"""Administrative data erasure: ``DELETE /v1/users/{user_id}/data``.

``user_id`` is a principal id as the agent stores it (``ragagent.core.security``).

Erases every conversation and message of one user (the right to erasure). It
needs the ``admin`` scope and is audited with the caller's identity; erasing a
user with no data is not an error and reports zero counts, so the call is
safely repeatable.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel

from ragagent.api.deps import AdminUser, StateDep
from ragagent.services import retention

router = APIRouter(prefix="/v1/users", tags=["users"])

UserId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=256,
        description="The principal id, e.g. apikey:7, apikey-user:alice or "
        "jwt:<issuer>#<sub> (URL-encode '#' as %23; slashes may stay).",
    ),
]


class ErasurePublic(BaseModel):
    user_id: str
    conversations_deleted: int
    messages_deleted: int


# ``:path`` because token principals carry their issuer, a URL with slashes.
@router.delete("/{user_id:path}/data", response_model=ErasurePublic, summary="Erase a user's data")
async def erase_user_data(user_id: UserId, state: StateDep, admin: AdminUser) -> ErasurePublic:
    deleted = await retention.erase_user_data(state.db, user_id=user_id, actor=admin.id)
    return ErasurePublic(
        user_id=user_id,
        conversations_deleted=deleted.conversations,
        messages_deleted=deleted.messages,
    )
