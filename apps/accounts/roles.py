"""Roles and what each may do. Later apps add capabilities with ``register_capability``;
every permission check in the product goes through ``user_can``."""
from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    SUPERVISOR = "supervisor", _("Supervisor")
    AGENT = "agent", _("Agent")
    ANALYST = "analyst", _("Analyst")


# capability -> roles that have it (Admin has every capability)
CAPABILITIES: dict[str, set[str]] = {
    "company.manage": set(),
    "team.manage": set(),
    "audit.view": set(),
    "billing.manage": set(),
    "reports.view": {Role.SUPERVISOR, Role.ANALYST},
    "conversations.view_all": {Role.SUPERVISOR},
    "conversations.reply": {Role.SUPERVISOR, Role.AGENT},
}


def register_capability(name: str, roles: set[str] | list[str]) -> None:
    CAPABILITIES.setdefault(name, set()).update(roles)


def role_can(role: str, capability: str) -> bool:
    if role == Role.ADMIN:
        return True
    return role in CAPABILITIES.get(capability, set())


def user_can(user, capability: str) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return role_can(getattr(user, "role", ""), capability)
