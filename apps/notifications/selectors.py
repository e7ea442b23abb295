"""Reads of notifications; always scoped to one recipient."""
from __future__ import annotations

from django.db.models import QuerySet

from .models import Notification


def notification_list(*, user, unread_only: bool = False) -> QuerySet[Notification]:
    queryset = Notification.objects.filter(recipient=user)
    if unread_only:
        queryset = queryset.filter(read_at__isnull=True)
    return queryset


def notification_latest(*, user, limit: int = 10) -> list[Notification]:
    return list(notification_list(user=user)[:limit])


def unread_count(user) -> int:
    if user is None or not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()
