"""Debounced bot turns: each customer message pushes the conversation's ``turn_due_at`` to
now + debounce; the first message of a window enqueues ``inbox.run_turn`` for that moment, and a
task that finds the window extended re-enqueues itself for the new due time. The task that finds
the due time passed takes every customer message since the last turn into one Turn and hands it to the turn
hook (``apps.inbox.turns``). The sweep runs turns whose task was lost."""
from __future__ import annotations

import importlib
import logging
import traceback
from datetime import timedelta

from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone

from ..models import BotState, Conversation, Direction, Message, SenderKind, Turn

log = logging.getLogger(__name__)


def debounce_seconds() -> float:
    return float(settings.MESSAGE_DEBOUNCE_SECONDS)


def turn_schedule(conversation: Conversation) -> None:
    """(Re)start the conversation's debounce window; the turn runs when it closes."""
    delay = debounce_seconds()
    now = timezone.now()
    # one task per window, not per message: while a window is open its task is already waiting
    # (and re-enqueues itself for the extended due time), so a burst of N messages costs one task
    window_open = conversation.turn_due_at is not None and conversation.turn_due_at > now
    conversation.turn_due_at = now + timedelta(seconds=delay)
    conversation.save(update_fields=["turn_due_at"])
    if window_open:
        return
    schema = db_connection.schema_name
    conversation_id = conversation.pk
    transaction.on_commit(lambda: enqueue_turn(conversation_id, countdown=delay, schema=schema))


def enqueue_turn(conversation_id: int, *, countdown: float = 0, schema: str | None = None) -> bool:
    """Send ``inbox.run_turn``; a broker failure is logged, never raised (the sweep runs due turns)."""
    from django_tenants.utils import schema_context

    from ..tasks import run_turn

    try:
        with schema_context(schema or db_connection.schema_name):
            # a little late rather than early: an early task finds the window still open and quits
            run_turn.apply_async(args=[conversation_id], countdown=(countdown + 0.05) if countdown else None,
                                 retry=False)
    except Exception as exc:  # noqa: BLE001
        log.warning("turn of conversation %s not enqueued (%s); the sweep will run it", conversation_id, exc)
        return False
    return True


_loaded: dict[str, object] = {}


def _configured_handlers() -> list:
    """Handlers named in settings.INBOX_TURN_HANDLERS (env ``INBOX_TURN_HANDLERS``, comma-separated
    dotted paths to a handler object or class), loaded once, after the registered ones."""
    paths = settings.INBOX_TURN_HANDLERS
    handlers = []
    for path in paths:
        if path not in _loaded:
            module_name, _, attr = path.rpartition(".")
            obj = getattr(importlib.import_module(module_name), attr)
            _loaded[path] = obj() if isinstance(obj, type) else obj
        handlers.append(_loaded[path])
    return handlers


def turn_handlers() -> list:
    from ..turns import turn_handlers as registered

    handlers = registered()
    names = {h.name for h in handlers}
    return handlers + [h for h in _configured_handlers() if h.name not in names]


def _skip_reason(conversation: Conversation) -> str:
    from tenants.models import Tenant

    tenant = Tenant.objects.filter(schema_name=db_connection.schema_name).only("status").first()
    if tenant is not None and tenant.is_blocked:
        return "tenant_blocked"
    if not conversation.connection.is_active:
        return "connection_inactive"
    if conversation.bot_state != BotState.AI_ACTIVE:
        return f"bot_{conversation.bot_state}"
    return ""


def turn_run(conversation_id: int) -> Turn | None:
    """Run the conversation's turn if its window has closed: one Turn with every customer message
    not yet in a turn (in order), handed to the first handler that takes it. Idempotent: a second
    call (duplicate task, sweep) finds nothing due and returns None."""
    now = timezone.now()
    with transaction.atomic():
        conversation = (Conversation.objects.select_for_update(of=("self",)).select_related("connection")
                        .filter(pk=conversation_id).first())
        if conversation is None or conversation.turn_due_at is None:
            return None
        if conversation.turn_due_at > now:  # the window was extended by a later message: wait for it
            remaining = (conversation.turn_due_at - now).total_seconds()
            schema = db_connection.schema_name
            transaction.on_commit(lambda: enqueue_turn(conversation_id, countdown=remaining, schema=schema))
            return None
        conversation.turn_due_at = None
        conversation.save(update_fields=["turn_due_at"])
        message_ids = list(
            Message.objects.filter(conversation=conversation, direction=Direction.IN, sender_kind=SenderKind.CONTACT,
                                   turn__isnull=True, rate_limited=False)
            .order_by("created_at", "id").values_list("pk", flat=True))
        if not message_ids:
            return None
        turn = Turn.objects.create(conversation=conversation, status=Turn.Status.RUNNING,
                                   detail={"message_ids": message_ids})
        Message.objects.filter(pk__in=message_ids).update(turn=turn)
        reason = _skip_reason(conversation)
        if reason:
            turn.status = Turn.Status.SKIPPED
            turn.detail = {**turn.detail, "reason": reason}
            turn.finished_at = timezone.now()
            turn.save(update_fields=["status", "detail", "finished_at"])
            return turn
    # committed: the handlers run without holding any lock (an AI call takes seconds)
    return _dispatch(turn)


def _dispatch(turn: Turn) -> Turn:
    try:
        handlers = turn_handlers()
    except Exception as exc:  # noqa: BLE001 - a bad INBOX_TURN_HANDLERS entry must show, not vanish
        return _finish(turn, Turn.Status.FAILED, error=f"{exc.__class__.__name__}: {exc}",
                       trace=traceback.format_exc())
    for handler in handlers:
        try:
            taken = handler.handle(turn)
        except Exception as exc:  # noqa: BLE001
            log.exception("turn %s: handler %s failed", turn.pk, getattr(handler, "name", handler))
            return _finish(turn, Turn.Status.FAILED, handler=getattr(handler, "name", ""),
                           error=f"{exc.__class__.__name__}: {exc}", trace=traceback.format_exc())
        if taken:
            status = turn.status if turn.status != Turn.Status.RUNNING else Turn.Status.DONE
            return _finish(turn, status, handler=handler.name)
    return _finish(turn, Turn.Status.SKIPPED, reason="no_handler")


def _finish(turn: Turn, status: str, *, handler: str = "", reason: str = "", error: str = "",
            trace: str = "") -> Turn:
    turn.status = status
    if handler:
        turn.handler = handler[:40]
    detail = dict(turn.detail or {})
    if reason:
        detail["reason"] = reason
    if error:
        detail["error"] = error[:2000]
        detail["traceback"] = trace[-4000:]
    turn.detail = detail
    turn.finished_at = timezone.now()
    turn.save(update_fields=["status", "handler", "detail", "finished_at"])
    return turn


def turns_due(*, grace_seconds: float = 5) -> list[int]:
    """Conversations whose turn is overdue (its task was lost): for the sweep."""
    cutoff = timezone.now() - timedelta(seconds=grace_seconds)
    return list(Conversation.objects.filter(turn_due_at__lte=cutoff).values_list("pk", flat=True)[:500])
