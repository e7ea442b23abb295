"""Bot state of a conversation: ai_active, waiting_human (handed off), human_active (staff are
answering), paused (by staff). Each change writes a system line in the chat (never sent to the
customer) and is announced to the inbox. A timed return to the bot is a due time in the row
(``bot_resume_at``) applied by the beat sweep, never a long Celery countdown."""
from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import events
from ..models import BotState, Conversation


def _locked(conversation: Conversation) -> Conversation:
    """Reload under a row lock and copy the fresh values onto the caller's instance."""
    fresh = Conversation.objects.select_for_update().get(pk=conversation.pk)
    conversation.__dict__.update({k: v for k, v in fresh.__dict__.items() if not k.startswith("_")})
    return conversation


def human_idle_due(now: datetime | None = None) -> datetime | None:
    """When a conversation with humans in charge returns to the AI if no staff act before then:
    the tenant's ``bot_return_hours`` after ``now`` (None when the tenant turned it off)."""
    from datetime import timedelta

    from django.db import connection as db_connection

    from tenants.models import Tenant

    hours = (Tenant.objects.filter(schema_name=db_connection.schema_name)
             .values_list("bot_return_hours", flat=True).first())
    if not hours:
        return None
    return (now or timezone.now()) + timedelta(hours=hours)


def bot_touch_human_activity(conversation: Conversation) -> None:
    """Staff acted in a conversation humans are handling: the 24 h return clock starts again.
    (Caller holds the conversation's lock.)"""
    if conversation.bot_state not in (BotState.WAITING_HUMAN, BotState.HUMAN_ACTIVE):
        return
    due = human_idle_due()
    if conversation.bot_resume_at != due:
        conversation.bot_resume_at = due
        conversation.save(update_fields=["bot_resume_at"])


def _who(user) -> str:
    if user is None:
        return _("the system")
    return getattr(user, "name", "") or getattr(user, "email", "") or str(user)


def _set(conversation: Conversation, state: str, *, text: str, event: str, extra: dict | None = None,
         fields: dict | None = None) -> bool:
    """Apply ``state`` (+ ``fields``); write the event line when something changed."""
    from .messages import message_log_event

    changed = conversation.bot_state != state
    updates = {"bot_state": state, **(fields or {})}
    for key, value in updates.items():
        if getattr(conversation, key) != value:
            changed = True
        setattr(conversation, key, value)
    if not changed:
        return False
    conversation.save(update_fields=list(updates))
    message_log_event(conversation, text=text, payload={"event": event, **(extra or {})})
    events.conversation_updated(conversation)
    return True


@transaction.atomic
def bot_pause(conversation: Conversation, user=None) -> Conversation:
    """Staff stop the bot in this conversation until someone resumes it."""
    _locked(conversation)
    _set(conversation, BotState.PAUSED, text=_("Bot paused by %(name)s") % {"name": _who(user)},
         event="bot_paused", extra={"user_id": getattr(user, "pk", None)}, fields={"bot_resume_at": None})
    return conversation


@transaction.atomic
def bot_resume(conversation: Conversation, user=None) -> Conversation:
    """The bot answers again (from the customer's next message on)."""
    _locked(conversation)
    _set(conversation, BotState.AI_ACTIVE, text=_("Bot resumed by %(name)s") % {"name": _who(user)},
         event="bot_resumed", extra={"user_id": getattr(user, "pk", None)}, fields={"bot_resume_at": None})
    return conversation


@transaction.atomic
def bot_handoff(conversation: Conversation, reason: str = "", team=None) -> Conversation:
    """The bot hands the customer to humans: waiting_human, and the first-response clock starts."""
    _locked(conversation)
    fields = {"waiting_since": timezone.now(), "bot_resume_at": human_idle_due()}
    if team is not None:
        fields["team"] = team
    if team is not None:
        text = _("Handed off to %(team)s") % {"team": team.name}
    else:
        text = _("Handed off to a human")
    if reason:
        text = f"{text}: {reason}"
    _set(conversation, BotState.WAITING_HUMAN, text=text, event="handoff",
         extra={"reason": reason, "team_id": getattr(team, "pk", None)}, fields=fields)
    # the team (given, or the connection's default) may assign automatically right away
    from .conversations import conversation_handoff_assign

    return conversation_handoff_assign(conversation, team=team)


@transaction.atomic
def bot_set_human_active(conversation: Conversation, user=None) -> Conversation:
    """A human answered (in the inbox or on the phone itself): the bot stays quiet."""
    _locked(conversation)
    if conversation.bot_state == BotState.HUMAN_ACTIVE:
        return conversation
    if user is not None:
        text = _("%(name)s is answering; the bot is quiet") % {"name": _who(user)}
    else:
        text = _("A human is answering; the bot is quiet")
    _set(conversation, BotState.HUMAN_ACTIVE, text=text, event="human_active",
         extra={"user_id": getattr(user, "pk", None)}, fields={"bot_resume_at": human_idle_due()})
    return conversation


@transaction.atomic
def bot_schedule_resume(conversation: Conversation, at: datetime | None) -> Conversation:
    """Return the bot to ai_active at ``at`` (applied by the sweep); None cancels."""
    _locked(conversation)
    if conversation.bot_resume_at == at:
        return conversation
    conversation.bot_resume_at = at
    conversation.save(update_fields=["bot_resume_at"])
    if at is not None:
        from .messages import message_log_event

        local = timezone.localtime(at)
        message_log_event(conversation, text=_("The bot will resume at %(time)s") % {
            "time": local.strftime("%d/%m %H:%M")}, payload={"event": "bot_resume_scheduled", "at": at.isoformat()})
    events.conversation_updated(conversation)
    return conversation


def bot_resume_due(*, now: datetime | None = None) -> int:
    """Sweep: conversations whose ``bot_resume_at`` has passed go back to ai_active. Idempotent."""
    now = now or timezone.now()
    done = 0
    ids = list(Conversation.objects.filter(bot_resume_at__lte=now).values_list("pk", flat=True)[:500])
    for pk in ids:
        with transaction.atomic():
            conversation = Conversation.objects.select_for_update(skip_locked=True).filter(
                pk=pk, bot_resume_at__lte=now).first()
            if conversation is None:
                continue
            if conversation.bot_state == BotState.AI_ACTIVE:  # already back: just clear the due time
                conversation.bot_resume_at = None
                conversation.save(update_fields=["bot_resume_at"])
                continue
            previous = conversation.bot_state
            _set(conversation, BotState.AI_ACTIVE, text=_("The bot is back"), event="bot_resumed_auto",
                 fields={"bot_resume_at": None})
            from ..turns import resume_hooks

            for hook in resume_hooks():
                hook(conversation, previous)
            done += 1
    return done
