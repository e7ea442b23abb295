from __future__ import annotations

from .models import LIMIT_FIELDS, Plan


def default_plan() -> Plan | None:
    return Plan.objects.filter(is_default=True).first() or Plan.objects.order_by("monthly_price").first()


def public_plans():
    return Plan.objects.filter(is_public=True)


def plan_limit(tenant, limit: str) -> int | None:
    """The tenant's limit for ``limit`` (see LIMIT_FIELDS); None means unlimited."""
    if limit not in LIMIT_FIELDS:
        raise KeyError(limit)
    plan = tenant.plan
    return None if plan is None else getattr(plan, LIMIT_FIELDS[limit])


def within_limit(tenant, limit: str, *, used: int, adding: int = 1) -> bool:
    """Is there room for ``adding`` more of ``limit`` when ``used`` are already taken?"""
    cap = plan_limit(tenant, limit)
    return cap is None or used + adding <= cap
