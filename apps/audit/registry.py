"""Which models django-auditlog records. Apps call ``audit_register`` from their AppConfig.ready()."""
from __future__ import annotations

from auditlog.registry import auditlog


def audit_register(model, **kwargs) -> None:
    """Record creates, updates and deletes of ``model`` (kwargs as auditlog.register: exclude_fields,
    include_fields, mask_fields, m2m_fields...). Registering twice is a no-op."""
    if not auditlog.contains(model):
        auditlog.register(model, **kwargs)


def register_core_models() -> None:
    from apps.accounts.models import Invitation, Team, User

    audit_register(User, exclude_fields=["password", "last_login"])
    audit_register(Team, m2m_fields={"members"})
    audit_register(Invitation, exclude_fields=["token"])
