"""Every write to notifications. Sending creates one row per active recipient, then (after commit)
announces it on each recipient's socket and, when asked, emails it."""
from __future__ import annotations

import logging
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from . import events
from .models import Notification

log = logging.getLogger(__name__)


def _safe_link(link: str) -> str:
    """Only same-site paths and http(s) URLs become links (never ``javascript:``)."""
    link = (link or "").strip()
    if link.startswith("/") and not link.startswith("//"):
        return link
    if link.lower().startswith(("http://", "https://")):
        return link
    return ""


def _recipients(*, recipients, user, team, role) -> list:
    User = get_user_model()
    query = Q(pk__in=[])
    if recipients is not None:
        ids = [getattr(r, "pk", r) for r in recipients]
        query |= Q(pk__in=ids)
    if user is not None:
        query |= Q(pk=getattr(user, "pk", user))
    if team is not None:
        query |= Q(teams=team)
    if role is not None:
        query |= Q(role=role)
    return list(User.objects.filter(query, is_active=True).distinct().order_by("pk"))


def _unread_counts(user_ids: Iterable[int]) -> dict[int, int]:
    rows = (
        Notification.objects.filter(recipient_id__in=list(user_ids), read_at__isnull=True)
        .values("recipient_id")
        .annotate(n=Count("id"))
    )
    return {row["recipient_id"]: row["n"] for row in rows}


@transaction.atomic
def notification_send(
    *,
    recipients: Iterable | None = None,
    user=None,
    team=None,
    role: str | None = None,
    kind: str,
    title: str,
    body: str = "",
    link: str = "",
    email: bool = False,
) -> list[Notification]:
    """Notify the union of ``recipients`` (users or ids), ``user``, ``team``'s members and everyone
    with ``role``; inactive users are skipped and nobody is notified twice."""
    users = _recipients(recipients=recipients, user=user, team=team, role=role)
    if not users:
        return []
    link = _safe_link(link)
    now = timezone.now()
    created = Notification.objects.bulk_create(
        [Notification(recipient=u, kind=kind, title=title[:200], body=body, link=link, created_at=now) for u in users]
    )
    counts = _unread_counts(u.pk for u in users)
    events.publish_on_commit(
        events.NOTIFICATION_CREATED,
        {
            n.recipient_id: {
                "id": n.pk, "kind": n.kind, "title": n.title, "body": n.body, "link": n.link,
                "created_at": n.created_at.isoformat(), "unread_count": counts.get(n.recipient_id, 0),
            }
            for n in created
        },
    )
    if email:
        from .emails import send_notification_emails

        schema_name = connection.schema_name
        ids = [n.pk for n in created]
        transaction.on_commit(lambda: send_notification_emails(ids, schema_name=schema_name))
    return created


@transaction.atomic
def notification_mark_read(*, user, ids: Iterable[int] | None = None, all: bool = False) -> int:  # noqa: A002
    """Mark ``user``'s notifications read (the given ids, or all of them). Other users' ids are
    ignored. Returns how many changed."""
    queryset = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if not all:
        queryset = queryset.filter(pk__in=list(ids or []))
    changed = queryset.update(read_at=timezone.now())
    if changed:
        remaining = Notification.objects.filter(recipient=user, read_at__isnull=True).count()
        events.publish_on_commit(events.NOTIFICATION_READ, {user.pk: {"unread_count": remaining}})
    return changed
