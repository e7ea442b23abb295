"""Hand-back after the 24 h rule, the pending-customer email, message retention.

``on_bot_returned`` is the inbox's resume hook: the sweep (``apps.inbox.services.bot.bot_resume_due``)
calls it inside the transaction that holds the conversation's row lock, after the state went back
to ``ai_active``, so whatever it does happens once per return even with two sweeps running. The
return message goes through the outbox (sent after commit); the email is sent after commit too, so
a rolled-back return never emails anyone.

``retention_run`` deletes message content older than the tenant's retention in short batches
(``FOR UPDATE SKIP LOCKED``: rows a live request holds are simply left for the next run), keeping
the rows themselves so counts, statuses, metrics and orders stay intact.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

log = logging.getLogger(__name__)

RETENTION_BATCH = 500


def current_tenant():
    """The Tenant row of the schema we run in (jobs run in a tenant schema, not a request)."""
    from tenants.models import Tenant

    return Tenant.objects.filter(schema_name=connection.schema_name).select_related("plan").first()


# --- the 24 h return --------------------------------------------------------------------------


def _unanswered(conversation) -> bool:
    """Nobody from the staff wrote since the customer was handed over."""
    replied = conversation.first_human_reply_at
    if replied is None:
        return True
    return conversation.waiting_since is not None and replied < conversation.waiting_since


def on_bot_returned(conversation, previous_state: str) -> None:
    """Resume hook (apps.inbox.turns.register_resume_hook).

    Only a return from humans (``waiting_human`` / ``human_active``: the 24 h rule) says "I'm back",
    and only when the conversation has an active assistant; a paused bot that staff scheduled to
    resume comes back silently."""
    from apps.inbox.models import BotState

    if previous_state not in (BotState.WAITING_HUMAN, BotState.HUMAN_ACTIVE):
        return
    from .. import selectors

    tenant = current_tenant()
    assistant = selectors.assistant_for_conversation(conversation)
    if assistant is not None:  # with no active assistant nobody would answer: promise nothing
        _send_return_message(conversation, assistant, tenant)
    if previous_state == BotState.WAITING_HUMAN and _unanswered(conversation):
        conversation_id, schema = conversation.pk, connection.schema_name
        team_ids = [t for t in (conversation.team_id, getattr(assistant, "handoff_team_id", None)) if t]
        transaction.on_commit(lambda: _email_pending(conversation_id, team_ids=team_ids, schema=schema))


def _send_return_message(conversation, assistant, tenant) -> None:
    from apps.inbox.services.messages import message_log_event, message_send

    from ..defaults import message_for

    language = getattr(tenant, "language", "") or settings.LANGUAGE_CODE
    with translation.override(language):
        text = message_for(assistant, "return_message")
        try:
            with transaction.atomic():  # a failure rolls back only this send, never the sweep's return
                message_send(conversation, sender_kind="ai", text=text)
        except ValidationError as exc:  # e.g. the Cloud API window closed, the number disabled
            reason = "; ".join(exc.messages)
            log.info("return message of conversation %s not sent: %s", conversation.pk, reason)
            message_log_event(conversation, text=_("The assistant is back, but its message was not sent: "
                                                   "%(reason)s") % {"reason": reason},
                              payload={"event": "bot_return_message_failed", "reason": reason})
        except Exception as exc:  # noqa: BLE001 - a broken send must not break the sweep
            log.exception("return message of conversation %s failed", conversation.pk)
            message_log_event(conversation, text=_("The assistant is back, but its message was not sent."),
                              payload={"event": "bot_return_message_failed", "reason": exc.__class__.__name__})


def pending_recipients(team_ids: list[int]):
    """Who hears about a customer nobody answered: the active members of the first of ``team_ids``
    that has any (the conversation's team, then the assistant's hand-off team), else the tenant's
    Admins."""
    from apps.accounts.models import User
    from apps.accounts.roles import Role

    users = User.objects.filter(is_active=True).exclude(email="")
    for team_id in team_ids:
        members = list(users.filter(teams__id=team_id).distinct().order_by("pk"))
        if members:
            return members
    return list(users.filter(role=Role.ADMIN).order_by("pk"))


def _email_pending(conversation_id: int, *, team_ids: list[int], schema: str) -> int:
    """Email "atendimento pendente" (after commit); returns how many were sent. Best effort: the
    conversation is already back with the assistant, a mail failure is only logged."""
    from django_tenants.utils import schema_context

    from apps.core.urls_util import tenant_absolute_url
    from apps.inbox.models import Conversation

    try:
        with schema_context(schema):
            tenant = current_tenant()
            conversation = Conversation.objects.select_related("contact").get(pk=conversation_id)
            link = tenant_absolute_url(tenant, reverse("inbox:conversation-detail", args=[conversation.pk]))
            contact = str(conversation.contact)
            sent = 0
            for user in pending_recipients(team_ids):
                language = user.language or tenant.language or settings.LANGUAGE_CODE
                with translation.override(language):
                    subject = _("Pending conversation: %(contact)s") % {"contact": contact}
                    body = _(
                        "Hello, %(name)s.\n\n"
                        "%(contact)s was handed over to the team and nobody answered. The virtual "
                        "assistant is back on the conversation, but the customer may still need a person.\n\n"
                        "Open the conversation: %(link)s\n\n"
                        "— %(company)s"
                    ) % {"name": user.get_short_name(), "contact": contact, "link": link, "company": tenant.name}
                try:
                    EmailMessage(f"[{tenant.name}] {subject}", body, settings.DEFAULT_FROM_EMAIL, [user.email],
                                 headers={"Content-Language": language}).send()
                    sent += 1
                except Exception:  # noqa: BLE001
                    log.warning("pending-conversation email to user %s failed", user.pk, exc_info=True)
            return sent
    except Exception:  # noqa: BLE001 - runs after commit: nothing may propagate into the sweep
        log.exception("pending-conversation email for conversation %s failed", conversation_id)
        return 0


# --- retention ---------------------------------------------------------------------------------


def retention_days(tenant) -> int:
    """Days of message content kept: the tenant's setting (0 = keep everything), never longer than
    the plan's ``retention_days`` when the plan sets one."""
    from apps.billing.selectors import plan_limit

    days = tenant.message_retention_days or 0
    cap = plan_limit(tenant, "retention_days")
    if cap:
        days = cap if days == 0 else min(days, cap)
    return days


def _purge_messages(run, cutoff: datetime, batch: int) -> None:
    from apps.inbox.models import Message, MessageType

    last_id = 0
    while True:
        files: list[str] = []
        with transaction.atomic():
            rows = list(Message.objects.select_for_update(skip_locked=True)
                        .filter(created_at__lt=cutoff, purged_at__isnull=True, pk__gt=last_id)
                        .order_by("pk").values_list("pk", "type", "media", "payload")[:batch])
            if not rows:
                break
            last_id = rows[-1][0]
            plain, events = [], []
            for pk, type_, media, payload in rows:
                if media:
                    files.append(media)
                # a system line keeps its event code (no personal data; reports may count them)
                if type_ == MessageType.EVENT and isinstance(payload, dict) and payload.get("event"):
                    events.append((pk, payload["event"]))
                else:
                    plain.append(pk)
            cleared = {"text": "", "media": "", "media_name": "", "purged_at": timezone.now()}
            if plain:
                Message.objects.filter(pk__in=plain).update(payload={}, **cleared)
            for pk, code in events:
                Message.objects.filter(pk=pk).update(payload={"event": code}, **cleared)
        run.messages_purged += len(rows)  # counted per committed batch, so a failed run still tells
        # the rows no longer point at the files: delete them once that is committed
        _delete_files(Message._meta.get_field("media").storage, files)


def _delete_files(storage, names: list[str]) -> None:
    for name in names:
        try:
            storage.delete(name)
        except Exception:  # noqa: BLE001 - an orphan file is a smaller harm than a stuck job
            log.warning("retention: media file %s not deleted", name, exc_info=True)


def _purge_decisions(run, cutoff: datetime, batch: int) -> None:
    """Clear what the customer and the assistant said in old AI decisions; numbers stay."""
    from ..models import Decision

    pending = (Q(input_text__gt="") | Q(reply_text__gt="") | Q(chunks__0__has_key="text")
               | Q(tool_calls__0__has_key="arguments"))
    last_id = 0
    while True:
        with transaction.atomic():
            rows = list(Decision.objects.select_for_update(skip_locked=True)
                        .filter(pending, created_at__lt=cutoff, pk__gt=last_id)
                        .order_by("pk").values_list("pk", "chunks", "tool_calls")[:batch])
            if not rows:
                break
            last_id = rows[-1][0]
            for pk, chunks, tool_calls in rows:
                chunks = [{k: v for k, v in c.items() if k != "text"} for c in (chunks or []) if isinstance(c, dict)]
                tool_calls = [{k: v for k, v in c.items() if k in ("name", "ok")}
                              for c in (tool_calls or []) if isinstance(c, dict)]
                Decision.objects.filter(pk=pk).update(input_text="", reply_text="", chunks=chunks,
                                                      tool_calls=tool_calls)
        run.decisions_purged += len(rows)


def _clear_previews(cutoff: datetime) -> None:
    """The inbox list shows the last message's text: gone with the message's content."""
    from apps.inbox.models import Conversation

    Conversation.objects.filter(last_message_at__lt=cutoff).exclude(last_message_preview="").update(
        last_message_preview="")


def retention_run(*, now: datetime | None = None, batch: int = RETENTION_BATCH):
    """Delete message content older than the tenant's retention, in this tenant's schema. Returns
    the logged ``inbox.RetentionRun`` (None when the tenant keeps everything). ``now`` moves the
    cutoff (tests travel in time); the run's own times are real. Each ``batch`` of rows is one short
    transaction; rows that live traffic holds locked are skipped and left for the next run."""
    from apps.inbox.models import RetentionRun

    tenant = current_tenant()
    if tenant is None:
        return None
    days = retention_days(tenant)
    if days <= 0:
        return None
    now = now or timezone.now()
    cutoff = now - timedelta(days=days)
    run = RetentionRun.objects.create(cutoff=cutoff)
    try:
        _purge_messages(run, cutoff, batch)
        _purge_decisions(run, cutoff, batch)
        _clear_previews(cutoff)
    except Exception as exc:  # noqa: BLE001 - logged on the run; the next night continues where it stopped
        log.exception("retention run %s failed", run.pk)
        run.error = f"{exc.__class__.__name__}: {exc}"[:2000]
    run.finished_at = timezone.now()
    run.save(update_fields=["messages_purged", "decisions_purged", "finished_at", "error"])
    log.info("retention: %s messages, %s decisions purged before %s", run.messages_purged,
             run.decisions_purged, cutoff.isoformat())
    return run
