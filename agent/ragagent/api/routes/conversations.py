"""The caller's stored conversations: list, read with messages, delete.

Another user's conversation is a 404, exactly like one that never existed.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from ragagent.api.chat_schemas import (
    ConversationDetail,
    ConversationList,
    ConversationPublic,
    MessagePublic,
)
from ragagent.api.deps import ChatUser, StateDep
from ragagent.core import errors
from ragagent.db import conversations

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])

NOT_FOUND = "conversation not found"


@router.get("", response_model=ConversationList, summary="List your conversations")
async def list_conversations(
    state: StateDep,
    principal: ChatUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ConversationList:
    found = await conversations.list_conversations(
        state.db, user_id=principal.id, limit=limit, offset=offset
    )
    public = [ConversationPublic.model_validate(c, from_attributes=True) for c in found]
    return ConversationList(conversations=public, limit=limit, offset=offset)


@router.get("/{conversation_id}", response_model=ConversationDetail, summary="Read one")
async def get_conversation(
    conversation_id: UUID, state: StateDep, principal: ChatUser
) -> ConversationDetail:
    found = await conversations.get_conversation(
        state.db, user_id=principal.id, conversation_id=conversation_id
    )
    if found is None:
        raise errors.NotFound(NOT_FOUND)
    messages = await conversations.list_messages(state.db, conversation_id=conversation_id)
    return ConversationDetail(
        **ConversationPublic.model_validate(found, from_attributes=True).model_dump(),
        messages=[MessagePublic.model_validate(m, from_attributes=True) for m in messages],
    )


@router.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete one")
async def delete_conversation(
    conversation_id: UUID, state: StateDep, principal: ChatUser
) -> Response:
    deleted = await conversations.delete_conversation(
        state.db, user_id=principal.id, conversation_id=conversation_id
    )
    if not deleted:
        raise errors.NotFound(NOT_FOUND)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
