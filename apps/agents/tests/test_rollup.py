"""Usage roll-up: each tenant's per-day AI counters reach the public billing.TenantUsageDaily under
that tenant only, values replaced (running twice gives the same numbers); the SaaS owner's admin
lists them read-only with filters."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.services import user_create


def record(day, **counts):
    from apps.agents.services.usage import usage_record

    usage_record(day=day, **counts)


def public_rows(tenant) -> dict:
    from apps.billing.models import TenantUsageDaily

    return {row.date: (row.ai_turns, row.prompt_tokens, row.completion_tokens, row.cost, row.handoffs)
            for row in TenantUsageDaily.objects.filter(tenant=tenant)}


@pytest.fixture
def today(tenant):
    from apps.agents.services.usage import _today

    with schema_context("alpha"):
        return _today()


def test_rollup_copies_the_last_days_and_running_twice_changes_nothing(tenant, today):
    from apps.agents.services.rollup import usage_rollup

    with schema_context("alpha"):
        record(today, turns=3, prompt_tokens=900, completion_tokens=120, cost=Decimal("0.000207"), handoffs=1)
        record(today - timedelta(days=1), turns=5, prompt_tokens=1500, completion_tokens=200)
        record(today - timedelta(days=10), turns=7)  # outside the window
        assert usage_rollup(days=3) == 2
        first = public_rows(tenant)
        assert usage_rollup(days=3) == 2
    assert public_rows(tenant) == first == {
        today: (3, 900, 120, Decimal("0.000207"), 1),
        today - timedelta(days=1): (5, 1500, 200, Decimal("0"), 0),
    }


def test_later_usage_replaces_the_numbers_not_adds_to_them(tenant, today):
    from apps.agents.services.rollup import usage_rollup

    with schema_context("alpha"):
        record(today, turns=2, prompt_tokens=100)
        usage_rollup()
        record(today, turns=1, prompt_tokens=50, handoffs=1)  # the day goes on
        usage_rollup()
    assert public_rows(tenant) == {today: (3, 150, 0, Decimal("0"), 1)}


def test_each_tenants_numbers_land_under_that_tenant_only(tenant, other_tenant, today):
    from apps.agents.services.rollup import usage_rollup
    from apps.agents.tasks import usage_rollup as usage_rollup_task

    with schema_context("alpha"):
        record(today, turns=4, prompt_tokens=400)
    with schema_context("beta"):
        record(today, turns=9, prompt_tokens=999, handoffs=2)

    with schema_context("alpha"):
        assert usage_rollup_task.apply().get() == 1  # the beat task, eager, sent from alpha's schema
    assert public_rows(tenant) == {today: (4, 400, 0, Decimal("0"), 0)}
    assert public_rows(other_tenant) == {}

    with schema_context("beta"):
        usage_rollup()
    assert public_rows(other_tenant) == {today: (9, 999, 0, Decimal("0"), 2)}
    assert public_rows(tenant) == {today: (4, 400, 0, Decimal("0"), 0)}  # untouched by beta's run


def test_no_usage_no_rows(tenant):
    from apps.agents.services.rollup import usage_rollup

    with schema_context("alpha"):
        assert usage_rollup() == 0
    assert public_rows(tenant) == {}


# --- the SaaS owner's admin --------------------------------------------------------------------


@pytest.fixture
def admin_client(db):
    staff = user_create(email="root@saas.test", password="owner-pass-12345", name="SaaS Owner", is_staff=True,
                        is_superuser=True, language="en")
    client = Client(HTTP_HOST=settings.BASE_DOMAIN)
    client.force_login(staff)
    return client


@pytest.fixture
def usage_rows(tenant, other_tenant, today):
    from apps.billing.models import TenantUsageDaily

    return [
        TenantUsageDaily.objects.create(tenant=tenant, date=today, ai_turns=11, prompt_tokens=1234,
                                        cost=Decimal("0.5")),
        TenantUsageDaily.objects.create(tenant=other_tenant, date=today, ai_turns=22, prompt_tokens=5678),
        TenantUsageDaily.objects.create(tenant=tenant, date=today - timedelta(days=40), ai_turns=33),
    ]


URL = "/admin/billing/tenantusagedaily/"


def test_owner_admin_lists_usage_with_filters(admin_client, usage_rows, tenant, today):
    page = admin_client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Alpha Frios" in html and "Beta Pizzaria" in html and "US$ 0.5000" in html
    assert {row.pk for row in page.context["cl"].result_list} == {row.pk for row in usage_rows}

    only_alpha = admin_client.get(URL, {"tenant__id__exact": tenant.pk})
    assert {row.pk for row in only_alpha.context["cl"].result_list} == {usage_rows[0].pk, usage_rows[2].pk}

    since = (today - timedelta(days=7)).isoformat()
    recent = admin_client.get(URL, {"date_from": since}).context["cl"].result_list
    assert {row.pk for row in recent} == {usage_rows[0].pk, usage_rows[1].pk}


def test_owner_admin_is_read_only(admin_client, usage_rows):
    row = usage_rows[0]
    assert admin_client.get(f"{URL}add/").status_code == 403
    change = admin_client.get(f"{URL}{row.pk}/change/")
    assert change.status_code == 200  # viewable
    response = admin_client.post(f"{URL}{row.pk}/change/", {"ai_turns": 0})
    assert response.status_code == 403
    assert admin_client.post(f"{URL}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    row.refresh_from_db()
    assert row.ai_turns == 11


def test_tenant_staff_never_reach_the_owner_admin(owner_client, usage_rows):
    assert owner_client.get(URL).status_code == 404
