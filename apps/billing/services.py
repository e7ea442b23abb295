from decimal import Decimal

from django.utils.translation import gettext as _

from .models import Plan

TRIAL_PLAN = {
    "slug": "trial", "monthly_price": Decimal("0"), "max_users": 3, "max_connections": 1,
    "max_assistants": 1, "ai_turns_per_month": 500, "knowledge_chars_per_document": 200_000,
    "retention_days": 90, "is_default": True, "order": 0,
}


def plan_ensure_trial() -> Plan:
    """The seeded Trial plan; idempotent."""
    plan, _created = Plan.objects.get_or_create(
        slug="trial", defaults={"name": "Trial", "description": _("14 days to try everything"), **{
            k: v for k, v in TRIAL_PLAN.items() if k != "slug"}},
    )
    return plan
