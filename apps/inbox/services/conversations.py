"""Conversation writers: assignment (manual, automatic per team, after a bot hand-off), status
changes (open / pending / resolved, reopen) and read marks.

Every change that staff should notice writes a system line into the chat (type ``event``, never
sent to the customer; its ``payload`` holds the event code and names so the page shows it in the
reader's language) and announces ``conversation.updated`` after commit."""
from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import Team, User
from apps.accounts.roles import user_can

from .. import events
from ..models import BotState, Conversation, ConversationStatus, Message

log = logging.getLogger(__name__)

UNSET = object()

# system event codes (payload["event"])
EVENT_ASSIGNED = "assigned"
EVENT_UNASSIGNED = "unassigned"
EVENT_STATUS = "status"


def event_text(payload: dict) -> str:
    """The human line of a system event, in the active language."""
    code = payload.get("event")
    agent, team, by = payload.get("agent") or "", payload.get("team") or "", payload.get("by") or ""
    if code == EVENT_ASSIGNED:
        if agent and team:
            text = _("Assigned to %(agent)s (%(team)s)") % {"agent": agent, "team": team}
        else:
            text = _("Assigned to %(name)s") % {"name": agent or team}
        if payload.get("auto"):
            text = _("%(text)s automatically") % {"text": text}
        return text
    if code == EVENT_UNASSIGNED:
        return _("Unassigned")
    if code == EVENT_STATUS:
        status = payload.get("status")
        if payload.get("reopened"):
            return _("Reopened by %(name)s") % {"name": by} if by else _("Reopened")
        labels = {
            ConversationStatus.RESOLVED: _("Resolved by %(name)s") if by else _("Resolved"),
            ConversationStatus.PENDING: _("Marked pending by %(name)s") if by else _("Marked pending"),
            ConversationStatus.OPEN: _("Marked open by %(name)s") if by else _("Marked open"),
        }
        label = labels.get(status)
        if label:
            return label % {"name": by} if by else label
    return ""


def _by_line(by) -> str:
    return by.get_full_name() if by is not None else ""


def system_event(conversation: Conversation, payload: dict) -> Message:
    """A centred system line in the chat (never sent), announced as ``message.created``."""
    from .messages import message_log_event

    return message_log_event(conversation, text=event_text(payload)[:500], payload=payload)


def _locked(conversation: Conversation) -> Conversation:
    return Conversation.objects.select_for_update().get(pk=conversation.pk)


def _refresh_caller(conversation: Conversation, fresh: Conversation) -> Conversation:
    """Copy the saved state back into the caller's instance, so it sees what was written."""
    for field in fresh._meta.concrete_fields:
        setattr(conversation, field.attname, getattr(fresh, field.attname))
    for name in ("assignee", "team"):
        if name in fresh._state.fields_cache:
            conversation._state.fields_cache[name] = fresh._state.fields_cache[name]
        else:
            conversation._state.fields_cache.pop(name, None)
    return conversation


def _notify_assignee(conversation: Conversation, assignee: User, by) -> None:
    if assignee is None or (by is not None and by.pk == assignee.pk):
        return
    try:
        from apps.notifications.services import notification_send

        contact = conversation.contact
        notification_send(user=assignee, kind="conversation",
                          title=_("Conversation with %(name)s assigned to you") % {"name": contact.display_name},
                          body=conversation.last_message_preview, link=f"/inbox/c/{conversation.pk}/")
    except Exception:  # a notification is a courtesy; the assignment stands
        log.warning("assignment notification for conversation %s not sent", conversation.pk, exc_info=True)


def _validate_assignee(assignee) -> None:
    if assignee is None:
        return
    if not assignee.is_active or not user_can(assignee, "conversations.reply"):
        raise ValidationError(_("%(name)s cannot answer conversations.") % {"name": assignee.get_full_name()})


@transaction.atomic
def conversation_assign(*, conversation: Conversation, assignee=UNSET, team=UNSET, by=None,
                        auto: bool = False) -> Conversation:
    """Hand ``conversation`` to an agent and/or a team; ``None`` clears. A team given without an
    agent puts the conversation in that team's queue (no agent), and a team with automatic
    assignment then picks its member at once. Writes a system line and announces the change."""
    if assignee is UNSET and team is UNSET:
        raise ValidationError(_("Choose an agent or a team."))
    if assignee is not UNSET:
        _validate_assignee(assignee)
    fresh = _locked(conversation)
    new_assignee = fresh.assignee if assignee is UNSET else assignee
    new_team = fresh.team if team is UNSET else team
    if team is not UNSET and assignee is UNSET and team is not None:
        new_assignee = None  # into the team's queue
    if new_assignee == fresh.assignee and new_team == fresh.team:
        return _refresh_caller(conversation, fresh)
    fresh.assignee = new_assignee
    fresh.team = new_team
    fresh.assigned_at = timezone.now() if new_assignee is not None else None
    fresh.save(update_fields=["assignee", "team", "assigned_at"])
    if new_assignee is None and new_team is None:
        payload = {"event": EVENT_UNASSIGNED, "by": _by_line(by)}
    else:
        payload = {"event": EVENT_ASSIGNED, "agent": new_assignee.get_full_name() if new_assignee else "",
                   "agent_id": new_assignee.pk if new_assignee else None,
                   "team": new_team.name if new_team else "", "team_id": new_team.pk if new_team else None,
                   "by": _by_line(by), "auto": auto}
    system_event(fresh, payload)
    events.conversation_updated(fresh)
    if new_assignee is not None:
        _notify_assignee(fresh, new_assignee, by)
    _refresh_caller(conversation, fresh)
    if new_assignee is None and new_team is not None and new_team.auto_assign and not auto:
        conversation_auto_assign(new_team)
        conversation.refresh_from_db()
    return conversation


def _waiting(team: Team):
    return (Conversation.objects.filter(team=team, assignee__isnull=True)
            .exclude(status=ConversationStatus.RESOLVED)
            .filter(Q(waiting_since__isnull=False) | Q(bot_state=BotState.WAITING_HUMAN)))


def _pick_agent(team: Team) -> User | None:
    """The available member with the fewest unresolved conversations below their capacity
    (ties: who was assigned least recently, then the lowest id). Rows are locked."""
    members = list(User.objects.select_for_update(of=("self",))
                   .filter(teams=team, is_active=True, is_available=True).order_by("pk"))
    members = [m for m in members if user_can(m, "conversations.reply") and m.chat_capacity > 0]
    if not members:
        return None
    rows = (Conversation.objects.filter(assignee__in=members).exclude(status=ConversationStatus.RESOLVED)
            .values("assignee_id").annotate(n=Count("id")))
    open_counts = {row["assignee_id"]: row["n"] for row in rows}
    free = [m for m in members if open_counts.get(m.pk, 0) < m.chat_capacity]
    if not free:
        return None
    return min(free, key=lambda m: (open_counts.get(m.pk, 0), m.pk))


def conversation_auto_assign(team: Team) -> list[Conversation]:
    """Automatic assignment for ``team``: oldest waiting conversation first, each to the available
    member with the fewest unresolved conversations, never beyond a member's ``chat_capacity``.
    Repeats until no conversation waits or nobody has room. Race-safe: the team row is locked for
    the run (two runs for one team take turns), member rows are locked while counted, and waiting
    conversations another transaction holds are skipped. Returns the conversations assigned."""
    assigned: list[Conversation] = []
    if team is None or not team.auto_assign:
        return assigned
    with transaction.atomic():
        Team.objects.select_for_update().filter(pk=team.pk).first()
        while True:
            agent = _pick_agent(team)
            if agent is None:
                break
            conversation = (_waiting(team).select_for_update(skip_locked=True, of=("self",))
                            .order_by(Coalesce("waiting_since", "created_at"), "id").first())
            if conversation is None:
                break
            conversation_assign(conversation=conversation, assignee=agent, by=None, auto=True)
            assigned.append(conversation)
    return assigned


@transaction.atomic
def conversation_handoff_assign(conversation: Conversation, *, team: Team | None = None) -> Conversation:
    """Called when the bot hands a conversation to humans: start the first-response clock (unless
    it already runs), put it in ``team`` (or the one it has, or its connection's default team) and,
    when that team assigns automatically, give it to a member now. Without any team it stays
    unassigned, visible to every agent."""
    fresh = _locked(conversation)
    if fresh.waiting_since is None:
        fresh.waiting_since = timezone.now()
        fresh.save(update_fields=["waiting_since"])
    _refresh_caller(conversation, fresh)
    if fresh.assignee_id is not None:
        return conversation
    target = team or fresh.team or fresh.connection.default_team
    if target is not None and fresh.team_id != target.pk:
        conversation_assign(conversation=conversation, team=target, by=None)
    elif target is not None and target.auto_assign:
        conversation_auto_assign(target)
        conversation.refresh_from_db()
    else:
        events.conversation_updated(fresh)
    return conversation


@transaction.atomic
def conversation_set_status(*, conversation: Conversation, status: str, by=None) -> Conversation:
    """Open, pending or resolved. Resolving stops any due bot turn and frees the agent's capacity
    (their teams' queues get a chance to assign); reopening a resolved conversation restarts the
    first-response clock and fails when the customer already has another open conversation on
    the same number."""
    if status not in ConversationStatus.values:
        raise ValidationError(_("Unknown status “%(status)s”.") % {"status": status})
    fresh = _locked(conversation)
    if fresh.status == status:
        return _refresh_caller(conversation, fresh)
    previous = fresh.status
    now = timezone.now()
    fields = ["status"]
    fresh.status = status
    if status == ConversationStatus.RESOLVED:
        fresh.resolved_at = now
        fresh.turn_due_at = None
        fresh.unread_count = 0
        fields += ["resolved_at", "turn_due_at", "unread_count"]
    reopened = previous == ConversationStatus.RESOLVED
    if reopened:
        # a new round for staff: the first-response clock restarts
        fresh.resolved_at = None
        fresh.waiting_since = now
        fresh.first_human_reply_at = None
        fields += ["resolved_at", "waiting_since", "first_human_reply_at"]
    try:
        with transaction.atomic():
            fresh.save(update_fields=fields)
    except IntegrityError:
        raise ValidationError(
            _("This customer already has an open conversation on this number; continue there.")) from None
    system_event(fresh, {"event": EVENT_STATUS, "status": status, "reopened": reopened, "by": _by_line(by)})
    events.conversation_updated(fresh)
    _refresh_caller(conversation, fresh)
    if status == ConversationStatus.RESOLVED and fresh.assignee_id:
        for team in Team.objects.filter(members=fresh.assignee_id, auto_assign=True):
            conversation_auto_assign(team)
    return conversation


def conversation_mark_read(*, conversation: Conversation, user=None) -> Conversation:
    """Staff opened the chat: the unread badge goes to zero (announced so other windows follow)."""
    updated = Conversation.objects.filter(pk=conversation.pk, unread_count__gt=0).update(unread_count=0)
    conversation.unread_count = 0
    if updated:
        events.conversation_updated(Conversation.objects.get(pk=conversation.pk))
    return conversation
