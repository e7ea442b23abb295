"""Reads of users, teams and invitations shared by pages, APIs and tasks."""
from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from .models import Invitation, Team, User


def member_list() -> QuerySet[User]:
    """Everyone in this company (active first), with their teams."""
    return User.objects.prefetch_related("teams").order_by("-is_active", "name", "email")


def team_list() -> QuerySet[Team]:
    return Team.objects.prefetch_related("members").order_by("name")


def invitation_pending_list() -> QuerySet[Invitation]:
    return (Invitation.objects.select_related("team", "invited_by")
            .filter(accepted_at__isnull=True, expires_at__gt=timezone.now()).order_by("-created_at"))


def seats_used() -> int:
    """Seats taken against the plan's user limit: active users plus pending invitations."""
    return User.objects.filter(is_active=True).count() + invitation_pending_list().count()


def invitation_open_list() -> QuerySet[Invitation]:
    """Invitations not accepted yet, expired ones included (they can be re-sent or revoked)."""
    return (Invitation.objects.select_related("team", "invited_by")
            .filter(accepted_at__isnull=True).order_by("-created_at"))
