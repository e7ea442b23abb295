"""Reads of the inbox shared by the page, the API and the socket.

Who may see a conversation is decided here, once (``conversation_visible_q``): staff with
``conversations.view_all`` see every conversation; the others see the ones assigned to them, the
ones of their teams and the ones nobody holds yet (no agent, no team)."""
from __future__ import annotations

from dataclasses import dataclass
from django.db.models import Exists, OuterRef, Q, QuerySet

from apps.accounts.models import Team, User
from apps.accounts.roles import user_can

from .models import CannedReply, Conversation, ConversationStatus, Message

HISTORY_PAGE = 30
HISTORY_MAX = 100

VIEWS = ("all", "mine", "unassigned", "team")


def inbox_can_access(user) -> bool:
    return user_can(user, "conversations.reply") or user_can(user, "conversations.view_all")


def inbox_can_reply(user) -> bool:
    return user_can(user, "conversations.reply")


def user_team_ids(user) -> set[int]:
    return set(Team.objects.filter(members=user).values_list("pk", flat=True))


def conversation_visible_to(user, *, assignee_id: int | None, team_id: int | None,
                            team_ids: set[int] | None = None) -> bool:
    """The same rule as ``conversation_visible_q``, for data already in hand (socket events)."""
    if user_can(user, "conversations.view_all"):
        return True
    if not inbox_can_access(user):
        return False
    if assignee_id == user.pk:
        return True
    if team_ids is None:
        team_ids = user_team_ids(user)
    if team_id is not None and team_id in team_ids:
        return True
    return assignee_id is None and team_id is None


def conversation_visible_q(user) -> Q:
    if user_can(user, "conversations.view_all"):
        return Q()
    if not inbox_can_access(user):
        return Q(pk__in=[])
    return Q(assignee=user) | Q(team__members=user) | Q(assignee__isnull=True, team__isnull=True)


def conversation_visible(user) -> QuerySet[Conversation]:
    qs = Conversation.objects.all()
    if user_can(user, "conversations.view_all"):
        return qs
    return qs.filter(pk__in=Conversation.objects.filter(conversation_visible_q(user)).values("pk"))


@dataclass
class ConversationFilters:
    view: str = "all"  # all | mine | unassigned | team
    team: int | None = None
    status: str = ""  # "" = open + pending (not resolved); "any" = every status
    connection: int | None = None
    tag: int | None = None
    q: str = ""

    @classmethod
    def from_params(cls, params) -> "ConversationFilters":
        def as_int(name):
            value = str(params.get(name) or "").strip()
            return int(value) if value.isdigit() else None

        view = str(params.get("view") or "all")
        status = str(params.get("status") or "")
        return cls(
            view=view if view in VIEWS else "all",
            team=as_int("team"),
            status=status if status in (*ConversationStatus.values, "any") else "",
            connection=as_int("connection"),
            tag=as_int("tag"),
            q=str(params.get("q") or "").strip()[:100],
        )

    def as_query(self) -> dict:
        data = {"view": self.view, "team": self.team, "status": self.status, "connection": self.connection,
                "tag": self.tag, "q": self.q}
        return {k: v for k, v in data.items() if v not in (None, "", "all")}


def conversation_list(*, user, filters: ConversationFilters | None = None) -> QuerySet[Conversation]:
    """The conversations ``user`` may see, filtered, most recent activity first."""
    f = filters or ConversationFilters()
    qs = conversation_visible(user)
    if f.view == "mine":
        qs = qs.filter(assignee=user)
    elif f.view == "unassigned":
        qs = qs.filter(assignee__isnull=True)
    if f.team or f.view == "team":
        qs = qs.filter(team_id=f.team) if f.team else qs.filter(team__members=user)
    if f.status == "":
        qs = qs.exclude(status=ConversationStatus.RESOLVED)
    elif f.status != "any":
        qs = qs.filter(status=f.status)
    if f.connection:
        qs = qs.filter(connection_id=f.connection)
    if f.tag:
        qs = qs.filter(contact__tags__id=f.tag)
    if f.q:
        digits = "".join(ch for ch in f.q if ch.isdigit())
        match = Q(contact__name__icontains=f.q) | Q(contact__push_name__icontains=f.q)
        if len(digits) >= 3:
            match |= Q(contact__phone__contains=digits)
        text_hit = Message.objects.filter(conversation=OuterRef("pk"), text__icontains=f.q)
        qs = qs.filter(match | Q(Exists(text_hit)))
    return (qs.distinct()
            .select_related("contact", "assignee", "team", "connection")
            .prefetch_related("contact__tags")
            .order_by("-last_message_at", "-id"))


def conversation_get(*, user, pk) -> Conversation:
    """One conversation ``user`` may see; ``Conversation.DoesNotExist`` otherwise (a 404 at the edge)."""
    return (conversation_visible(user).select_related("contact", "assignee", "team", "connection")
            .prefetch_related("contact__tags").get(pk=pk))


@dataclass
class HistoryPage:
    messages: list[Message]
    has_more: bool  # older messages exist before the first one (for "before"/initial pages)


def message_history(*, conversation: Conversation, before: int | None = None, after: int | None = None,
                    limit: int = HISTORY_PAGE) -> HistoryPage:
    """Messages oldest-first. Initial page and ``before`` (a message id): the newest ``limit``
    messages older than that id. ``after``: every message newer than that id (up to HISTORY_MAX),
    what a page re-reads after a reconnect."""
    limit = max(1, min(int(limit), HISTORY_MAX))
    qs = conversation.messages.select_related("sender_user")
    if after is not None:
        anchor = conversation.messages.filter(pk=after).values_list("created_at", flat=True).first()
        newer = qs.filter(pk__gt=after) if anchor is None else qs.filter(
            Q(created_at__gt=anchor) | Q(created_at=anchor, pk__gt=after))
        rows = list(newer.order_by("created_at", "id")[:HISTORY_MAX + 1])
        return HistoryPage(messages=rows[:HISTORY_MAX], has_more=len(rows) > HISTORY_MAX)
    if before is not None:
        anchor = conversation.messages.filter(pk=before).values_list("created_at", flat=True).first()
        if anchor is None:
            return HistoryPage(messages=[], has_more=False)
        qs = qs.filter(Q(created_at__lt=anchor) | Q(created_at=anchor, pk__lt=before))
    rows = list(qs.order_by("-created_at", "-id")[:limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    rows.reverse()
    return HistoryPage(messages=rows, has_more=has_more)


def message_get(*, user, pk) -> Message:
    """One message of a conversation ``user`` may see; ``Message.DoesNotExist`` otherwise."""
    return (Message.objects.select_related("sender_user", "conversation")
            .filter(conversation__in=conversation_visible(user)).get(pk=pk))


def contact_conversations(*, conversation: Conversation, user) -> QuerySet[Conversation]:
    """The customer's other conversations (any connection) that ``user`` may see, newest first."""
    return (conversation_visible(user).filter(contact_id=conversation.contact_id).exclude(pk=conversation.pk)
            .select_related("connection").order_by("-created_at", "-id"))


def assignable_agents() -> QuerySet[User]:
    """Who a conversation can be handed to: active staff who may reply."""
    from apps.accounts.roles import CAPABILITIES, Role

    roles = {Role.ADMIN, *CAPABILITIES.get("conversations.reply", set())}
    return User.objects.filter(is_active=True, role__in=roles).order_by("name", "email")


def team_choices() -> QuerySet[Team]:
    return Team.objects.order_by("name")


def canned_reply_list(*, q: str = "") -> QuerySet[CannedReply]:
    qs = CannedReply.objects.all()
    if q:
        qs = qs.filter(Q(shortcut__icontains=q) | Q(title__icontains=q) | Q(text__icontains=q))
    return qs.order_by("shortcut")
