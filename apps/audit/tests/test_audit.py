import datetime as dt
import re

import pytest
from auditlog.context import set_actor
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.accounts.services import user_set_role
from apps.audit.models import ActionLog
from apps.audit.services import audit_record
from conftest import TENANTS, as_shown, host_of, make_user

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_role_change_appears_with_who_did_it(tenant, owner, owner_client):
    agent = make_user(tenant, email="rita@alpha.test", name="Rita Agent")
    with schema_context(tenant.schema_name), set_actor(owner):
        user_set_role(user=agent, role="supervisor", by=owner)

    response = owner_client.get("/audit/")

    assert response.status_code == 200
    html = _text(response)
    row = html[html.index('data-source="changes"'):]
    row = row[: row.index("</li>")]
    assert "Rita Agent" in row
    assert owner.name in row or owner.email in row
    assert "Agent" in row and "Supervisor" in row


def test_changes_made_over_http_name_the_signed_in_user(tenant, owner, owner_client):
    response = owner_client.patch("/api/v1/me/", {"theme": "light"}, content_type="application/json")
    assert response.status_code == 200

    with schema_context(tenant.schema_name):
        from auditlog.models import LogEntry

        entry = LogEntry.objects.get_for_object(owner).latest("timestamp")
        assert entry.actor_id == owner.pk
        assert "theme" in entry.changes and "password" not in entry.changes
    assert str(owner) in _text(owner_client.get("/audit/?source=changes"))


def test_audit_record_appears_with_target_and_details(tenant, owner, owner_client):
    with schema_context(tenant.schema_name):
        entry = audit_record(actor=owner, action="export", target=("report", 7, "Sales of March"),
                             details={"format": "xlsx"})
        assert entry.actor_label == owner.email

    response = owner_client.get("/audit/")
    html = _text(response)

    assert as_shown(response, "Exported data") in html
    assert "Sales of March" in html
    assert "xlsx" in html


def test_actions_and_changes_are_merged_newest_first_and_filterable(tenant, owner, owner_client):
    other = make_user(tenant, email="bob@alpha.test", name="Bob Filtered")
    with schema_context(tenant.schema_name):
        old = audit_record(actor=owner, action="bot.pause", target=("conversation", 1, "Old pause"))
        ActionLog.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=10))
        audit_record(actor=other, action="conversation.assign", target=("conversation", 2, "Fresh assign"))

    html = _text(owner_client.get("/audit/"))
    assert html.index("Fresh assign") < html.index("Old pause")
    assert 'data-source="changes"' in html  # Bob's creation is a model change

    only_actions = _text(owner_client.get("/audit/?source=actions"))
    assert 'data-source="changes"' not in only_actions and "Fresh assign" in only_actions

    by_bob = _text(owner_client.get(f"/audit/?user={other.pk}&source=actions"))
    assert "Fresh assign" in by_bob and "Old pause" not in by_bob

    today = timezone.localdate().isoformat()
    recent = _text(owner_client.get(f"/audit/?date_from={today}"))
    assert "Fresh assign" in recent and "Old pause" not in recent


def test_bad_filters_show_errors_not_500(owner_client):
    response = owner_client.get("/audit/?date_from=not-a-date&source=bogus&user=999999&page=abc")
    assert response.status_code == 200
    assert 'class="field-error"' in response.content.decode()


def test_pagination(tenant, owner, owner_client):
    with schema_context(tenant.schema_name):
        ActionLog.objects.bulk_create(
            [ActionLog(actor=owner, action="export", target_label=f"export-{i}") for i in range(60)]
        )
    first_response = owner_client.get("/audit/?source=actions")
    first = _text(first_response)
    assert as_shown(first_response, "Page %(number)s of %(total)s") % {"number": 1, "total": 2} in first
    second_response = owner_client.get("/audit/?source=actions&page=2")
    second = _text(second_response)
    assert as_shown(second_response, "Page %(number)s of %(total)s") % {"number": 2, "total": 2} in second and "export-" in second


@pytest.mark.parametrize("role", ["agent", "supervisor", "analyst"])
def test_only_admins_may_see_the_audit_log(tenant, role):
    user = make_user(tenant, email=f"{role}@alpha.test", role=role)
    client = Client(HTTP_HOST=host_of(tenant))
    with schema_context(tenant.schema_name):
        client.force_login(user)
    assert client.get("/audit/").status_code == 403


def test_anonymous_is_sent_to_login(tenant_client):
    response = tenant_client.get("/audit/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_nav_item_only_for_admins(tenant, owner):
    from apps.core.navigation import nav_for

    agent = make_user(tenant, email="navagent@alpha.test")
    with schema_context(tenant.schema_name):
        assert "audit" in [item["key"] for item in nav_for(owner)["settings"]]
        assert "audit" not in [item["key"] for item in nav_for(agent)["settings"]]


def test_tenant_isolation(tenant, other_tenant, owner, owner_client):
    agent = make_user(tenant, email="secret-agent@alpha.test", name="Alpha Secret Person")
    with schema_context(tenant.schema_name):
        audit_record(actor=owner, action="export", target=("report", 1, "alpha-only-report"))
        with set_actor(owner):
            user_set_role(user=agent, role="analyst", by=owner)

    beta_client = Client(HTTP_HOST=host_of(other_tenant))
    with schema_context(other_tenant.schema_name):
        beta_client.force_login(User.objects.get(email=TENANTS["beta"]["owner"]))
    html = _text(beta_client.get("/audit/"))

    assert "alpha-only-report" not in html
    assert "Alpha Secret Person" not in html
    assert "alpha-only-report" in _text(owner_client.get("/audit/"))


def test_public_staff_actor_is_not_attributed_to_a_tenant_user(tenant, owner):
    """A SaaS-owner user (public schema) acting inside a tenant schema never shows as a tenant user."""
    from auditlog.models import LogEntry

    from apps.accounts.services import user_create

    staff = user_create(email="staff@saas.test", password="x-123456789", is_staff=True, is_superuser=True)
    with set_actor(staff), schema_context(tenant.schema_name):
        created = make_user(tenant, email="provisioned@alpha.test")
        entry = LogEntry.objects.get_for_object(created).get()
        assert entry.actor_id is None
        assert entry.actor_email == "staff@saas.test"
