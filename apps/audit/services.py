"""The one writer of the action log."""
from __future__ import annotations

from typing import Any

from django.db import models

from .models import ActionLog


def _client_ip(request) -> str | None:
    # REMOTE_ADDR is what the server saw; behind a proxy, set it from X-Forwarded-For at the proxy
    # boundary (a header the client controls must not decide what the audit log records).
    ip = (request.META.get("REMOTE_ADDR") or "").strip()
    return ip or None


def _target_fields(target) -> dict[str, str]:
    if target is None:
        return {"target_type": "", "target_id": "", "target_label": ""}
    if isinstance(target, models.Model):
        meta = target._meta
        return {"target_type": f"{meta.app_label}.{meta.model_name}", "target_id": str(target.pk),
                "target_label": str(target)[:255]}
    target_type, target_id, label = target  # ("contact", 12, "Maria")
    return {"target_type": str(target_type)[:64], "target_id": str(target_id)[:64], "target_label": str(label)[:255]}


def audit_record(
    *,
    actor=None,
    action: str,
    target: models.Model | tuple[str, Any, str] | None = None,
    details: dict | None = None,
    request=None,
) -> ActionLog:
    """Record an action that is not a model save ("conversation.assign", "bot.pause", "export",
    "impersonate"...). ``target`` is a model instance or a (type, id, label) tuple. When ``actor`` is
    omitted it is taken from ``request.user``; an anonymous request records no actor."""
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        actor = user if user is not None and user.is_authenticated else None
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return ActionLog.objects.create(
        actor=actor,
        actor_label=(actor.email if actor is not None else "")[:254],
        action=action[:64],
        details=details or {},
        ip=_client_ip(request) if request is not None else None,
        **_target_fields(target),
    )
