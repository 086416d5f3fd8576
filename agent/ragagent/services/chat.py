"""The one chat pipeline behind every interface (REST, SSE, WebSocket, OpenAI-compatible).

A turn runs in two phases so each interface can answer errors properly:

1. ``ChatService.prepare_turn`` does everything that can refuse the request (validation,
   token budget, unknown conversation, full conversation, retrieval) and then
   persists the user's message — before any byte of the response is sent, so
   refusals become plain HTTP errors, and an accepted message is never lost
   even when the LLM fails afterwards.
2. ``ChatService.stream_turn`` streams the answer's text, then stores it with its
   citations and usage, charges the tokens to the turn's reservation, records the metrics and
   yields the finished ``ChatAnswer``: the one tail every interface ends a turn with.
   A client that leaves mid-answer (a closed SSE stream or WebSocket) still gets the
   text generated so far stored, charged and marked ``incomplete``.

Tokens are charged through a reservation (``services.budget``): ``prepare_turn`` reserves
the turn's estimate against the budgets, and ``stream_turn`` settles what was spent in a
``finally``, so a turn that ends in any way (answered, declined, client gone, LLM error)
is charged and frees its reservation.

A turn first takes a slot of the process's fair admission (``core.admission``), and gives it
back when it ends. It checks out four pooled connections, each for a short transaction and
none while the answer is generated: the history read and the reservation, the retrieval,
the question's store, and the answer's store with the settlement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ragagent.core import errors, models, telemetry
from ragagent.core.admission import Admission, Slot
from ragagent.core.metrics import CHAT_LATENCY, LLM_LATENCY
from ragagent.db import conversations
from ragagent.rag import relevance, retrieval, rewrite
from ragagent.rag.prompts import estimate_tokens
from ragagent.rag.types import AnswerDelta, RetrievedChunk, Usage
from ragagent.services import budget as budgets
from ragagent.services.answers import ChatAnswer as ChatAnswer  # the interfaces' name for it
from ragagent.services.answers import build_citations, validate_message

if TYPE_CHECKING:
    from ragagent.core.config import Settings
    from ragagent.core.db import Connection, Database
    from ragagent.core.security import Principal
    from ragagent.rag.types import LLM, Embedder
    from ragagent.services.budget import Budget, Charge

log = logging.getLogger(__name__)

# Stores of partial answers still running after their request was cancelled (a task
# with no reference left may be garbage-collected before it finishes).
_PARTIAL_WRITES: set[asyncio.Task[None]] = set()


@dataclass(frozen=True)
class PreparedTurn:
    """An accepted question, its stored conversation and the context it will be answered from."""

    conversation_id: UUID
    question: str
    history: list[models.ChatTurn]
    chunks: list[RetrievedChunk]
    interface: str
    started: float
    # The turn's token reservation and admission slot; stream_turn settles and releases them.
    charge: Charge
    slot: Slot
    # Nothing retrieved is relevant enough: the turn is answered "I don't know" without an LLM.
    declined: bool = False


# What ChatService.stream_turn yields: each piece of the answer's text, then the answer.
TurnEvent = str | ChatAnswer


@dataclass(frozen=True, kw_only=True)
class ChatService:
    """The chat pipeline over the process's shared clients; ``main.lifespan`` makes one."""

    settings: Settings
    db: Database
    embedder: Embedder
    llm: LLM
    budget: Budget
    admission: Admission

    async def prepare_turn(
        self,
        principal: Principal,
        *,
        message: str,
        conversation_id: UUID | None,
        interface: str,
        history: Sequence[models.ChatTurn] | None = None,
    ) -> PreparedTurn:
        """Validate, retrieve and persist the user's message; raises AgentError to refuse.

        ``history`` replaces the stored history when the client sends its own
        (the OpenAI-compatible interface carries the whole conversation).
        """
        started = time.perf_counter()
        question = validate_message(message, self.settings)
        slot = await self.admission.acquire()
        try:
            turns, charge = await self._open_turn(principal, question, conversation_id, history)
        except BaseException:
            slot.release()
            raise
        try:
            turn = await self._prepare(
                principal,
                question,
                turns,
                conversation_id,
                charge=charge,
                slot=slot,
                interface=interface,
                started=started,
            )
        except BaseException:
            # Refused after the reservation: free it, charging any rewrite already done.
            slot.release()
            await _finish(charge.settle())
            raise
        # A turn whose stream never starts (its client left before the first byte) runs
        # no finally: its slot is released when the turn is dropped.
        weakref.finalize(turn, _release_soon, asyncio.get_running_loop(), slot)
        return turn

    async def _open_turn(
        self,
        principal: Principal,
        question: str,
        conversation_id: UUID | None,
        history: Sequence[models.ChatTurn] | None,
    ) -> tuple[list[models.ChatTurn], Charge]:
        """The turn's history and its reservation, on one pooled connection."""
        async with self.db.connection() as conn:
            stored = await self._stored_history(conn, principal, conversation_id)
            turns = list(history) if history is not None else stored
            estimate = budgets.estimate_turn_tokens(self.settings, question, turns)
            identity = budgets.usage_identity(principal)
            return turns, await self.budget.reserve(identity, estimate, conn=conn)

    async def _prepare(
        self,
        principal: Principal,
        question: str,
        turns: list[models.ChatTurn],
        conversation_id: UUID | None,
        *,
        charge: Charge,
        slot: Slot,
        interface: str,
        started: float,
    ) -> PreparedTurn:
        settings = self.settings
        query = await self._search_query(charge, question, turns)
        with telemetry.span("retrieve", **{"retrieval.top_k": settings.retrieval_top_k}) as span:
            chunks = await retrieval.retrieve(
                db=self.db,
                embedder=self.embedder,
                query=query.text,
                **retrieval.build_ranking(settings),
            )
            span.set_attribute("retrieval.chunks", len(chunks))
            span.set_attribute("retrieval.query_rewrite", query.method)
        conversation_id = await self._store_question(principal, conversation_id, question)
        declined = not relevance.is_relevant(chunks, settings.answer_min_similarity)
        return PreparedTurn(
            conversation_id,
            question,
            turns,
            chunks,
            interface,
            started,
            charge,
            slot,
            declined=declined,
        )

    async def _search_query(
        self, charge: Charge, question: str, turns: Sequence[models.ChatTurn]
    ) -> rewrite.SearchQuery:
        """The standalone query to retrieve with; an LLM rewrite's tokens are charged."""
        query = await rewrite.search_query(
            self.llm,
            question,
            turns,
            use_llm=self.settings.followup_rewrite,
            timeout_seconds=self.settings.followup_rewrite_timeout_seconds,
        )
        if query.usage is not None:
            charge.add(self.llm.model, query.usage)
            await charge.record()
        return query

    async def _stored_history(
        self, conn: Connection, principal: Principal, conversation_id: UUID | None
    ) -> list[models.ChatTurn]:
        if conversation_id is None:
            return []
        context = await conversations.read_context(
            conn,
            user_id=principal.id,
            conversation_id=conversation_id,
            max_turns=self.settings.history_max_turns,
        )
        if context is None:
            raise errors.NotFound("conversation not found")
        _check_room(context.conversation.message_count, self.settings)
        return context.history

    async def _store_question(
        self, principal: Principal, conversation_id: UUID | None, question: str
    ) -> UUID:
        if conversation_id is None:
            return await conversations.create_conversation(
                self.db, user_id=principal.id, first_message=question
            )
        stored = await conversations.add_message(
            self.db,
            conversation_id=conversation_id,
            role="user",
            content=question,
            max_messages=self.settings.max_turns_per_conversation,
        )
        if not stored:  # Filled up or deleted by a concurrent request since it was loaded.
            _check_room(self.settings.max_turns_per_conversation, self.settings)
        return conversation_id

    async def stream_turn(
        self, principal: Principal, turn: PreparedTurn
    ) -> AsyncGenerator[TurnEvent, None]:
        """Each piece of the answer's text, then the ChatAnswer once the answer is stored.

        Every interface ends a turn from that last event: its citations, conversation
        and usage. LLM failures raise ``errors.LLMUnavailable``; the user's message
        stays stored. A declined turn calls no LLM: its answer is ``DECLINE_ANSWER``.
        """
        events = self._decline(turn) if turn.declined else self._answer(turn)
        try:
            # aclosing: a client gone mid-answer closes this generator; the inner one must
            # store its partial answer (and add its tokens) before the charge is settled.
            async with contextlib.aclosing(events):
                async for event in events:
                    yield event
        finally:
            # However the turn ended (answered, client gone, LLM error): charge what it
            # spent and free its reservation, never raising after a delivered answer
            # (the answer's store has settled it already unless that failed).
            turn.slot.release()
            await _finish(turn.charge.settle_or_retry())

    async def _answer(self, turn: PreparedTurn) -> AsyncGenerator[TurnEvent, None]:
        llm_started = time.perf_counter()
        parts: list[str] = []
        last = AnswerDelta(text="", usage=Usage())
        try:
            async for delta in self._llm_deltas(turn):
                last = delta if delta.usage else last
                if delta.text:
                    parts.append(delta.text)
                    yield delta.text
        except (GeneratorExit, asyncio.CancelledError):
            # The client went away mid-answer: keep what was generated, flagged, then stop.
            await self._keep_partial(turn, "".join(parts))
            raise
        LLM_LATENCY.labels(self.llm.provider, self.llm.model).observe(
            time.perf_counter() - llm_started
        )
        answer = "".join(parts)
        citations = build_citations(turn.chunks, answer)
        usage = last.usage or Usage()
        done = ChatAnswer(
            answer, citations, turn.conversation_id, usage, last.degraded, last.incomplete
        )
        turn.charge.add(self.llm.model, usage)
        await self._store_answer(done, turn.charge)
        CHAT_LATENCY.labels(turn.interface).observe(time.perf_counter() - turn.started)
        yield done

    async def _llm_deltas(self, turn: PreparedTurn) -> AsyncIterator[AnswerDelta]:
        """The answerer's deltas inside the turn's ``llm`` span."""
        attributes = {"llm.provider": self.llm.provider, "llm.model": self.llm.model}
        with telemetry.detached_span("llm", **attributes) as span:
            usage = Usage()
            stream = self.llm.stream(
                question=turn.question, history=turn.history, chunks=turn.chunks
            )
            async for delta in stream:
                usage = delta.usage or usage
                yield delta
            span.set_attribute("llm.tokens_in", usage.prompt_tokens)
            span.set_attribute("llm.tokens_out", usage.completion_tokens)

    async def _keep_partial(self, turn: PreparedTurn, answer: str) -> None:
        """Store (and charge) the part of an answer a departed client was sent, marked
        incomplete; nothing when no text was generated yet.

        The store runs as its own task, shielded: the request's task is being cancelled,
        and a cancelled await must not lose the write half-way.
        """
        if not answer:
            return
        prompt = turn.question + "".join(chunk.text for chunk in turn.chunks)
        usage = Usage(estimate_tokens(prompt), estimate_tokens(answer))
        citations = build_citations(turn.chunks, answer)
        done = ChatAnswer(answer, citations, turn.conversation_id, usage, incomplete=True)
        turn.charge.add(self.llm.model, usage)
        await _finish(self._store_answer(done, turn.charge))

    async def _decline(self, turn: PreparedTurn) -> AsyncGenerator[TurnEvent, None]:
        # No LLM call: a model handed irrelevant passages tends to answer from them anyway.
        text = relevance.DECLINE_ANSWER
        yield text
        done = ChatAnswer(text, [], turn.conversation_id, Usage(), declined=True)
        await self._store_answer(done, turn.charge)
        CHAT_LATENCY.labels(turn.interface).observe(time.perf_counter() - turn.started)
        yield done

    async def _store_answer(self, done: ChatAnswer, charge: Charge) -> None:
        """Store the answer, commit it, then settle the turn's charge on the same connection.

        A settlement that fails after the answer is stored does not fail the turn: the charge
        stays unsettled, and ``stream_turn`` settles it again (retried in the background).
        """
        stored = False
        try:
            async with self.db.connection() as conn:
                await self._append_answer(conn, done)
                await conn.commit()
                stored = True
                await charge.settle(conn)
        except errors.DatabaseUnavailable:
            if not stored:
                raise
            log.warning("a stored answer's tokens were not settled with it; settling again")

    async def _append_answer(self, conn: Connection, done: ChatAnswer) -> None:
        usage = done.usage
        # One slot beyond the limit is allowed for the answer, so an accepted question
        # always gets its answer stored.
        await conversations.append_message(
            conn,
            conversation_id=done.conversation_id,
            role="assistant",
            content=done.answer,
            max_messages=self.settings.max_turns_per_conversation + 1,
            citations=done.citation_dicts(),
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            incomplete=done.incomplete,
        )

    async def answer_turn(self, principal: Principal, turn: PreparedTurn) -> ChatAnswer:
        """The whole answer at once, for non-streaming interfaces."""
        # aclosing: the answer is the last event, and the charge settles once the
        # generator has ended, not when it is garbage-collected.
        async with contextlib.aclosing(self.stream_turn(principal, turn)) as events:
            async for event in events:
                if isinstance(event, ChatAnswer):
                    return event
        raise AssertionError("unreachable: stream_turn always ends with the ChatAnswer")


async def _finish(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` to its end in its own task, shielded: the request's task may be
    being cancelled (a client gone), and a cancelled await must not lose a write half-way."""
    task = asyncio.ensure_future(work)
    _PARTIAL_WRITES.add(task)
    task.add_done_callback(_PARTIAL_WRITES.discard)
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.shield(task)


def _release_soon(loop: asyncio.AbstractEventLoop, slot: Slot) -> None:
    # A finalizer may run on whichever thread dropped the turn; the slot is the loop's.
    if not loop.is_closed():
        loop.call_soon_threadsafe(slot.release)


def _check_room(message_count: int, settings: Settings) -> None:
    if message_count >= settings.max_turns_per_conversation:
        raise errors.Conflict(
            f"this conversation has reached its limit of {settings.max_turns_per_conversation} "
            "messages; start a new conversation"
        )
