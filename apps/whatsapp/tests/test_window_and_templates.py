"""The Cloud API's 24-hour customer-service window, and the approved templates (synced from a fake
Graph API) that are the only way to write once it is closed."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django_tenants.utils import schema_context

from apps.crm.models import Contact
from apps.inbox.models import Conversation
from apps.whatsapp.models import MessageTemplate
from apps.whatsapp.providers.base import PermanentProviderError
from apps.whatsapp.services.connections import connection_create
from apps.whatsapp.services.templates import (
    template_outbound_payload,
    template_render_preview,
    templates_sync,
)
from apps.whatsapp.window import ensure_can_send_free_form, service_window
from tests.fakes import cloud_api as fake

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture(scope="module")
def graph():
    with fake.FakeGraphApi() as server:
        yield server


@pytest.fixture
def alpha(tenant):
    with schema_context("alpha"):
        yield


def cloud_connection(graph=None, *, schema="alpha", phone_number_id=fake.PHONE_NUMBER_ID):
    config = {"waba_id": fake.WABA_ID}
    if graph is not None:
        config["graph_url"] = graph.url
    with schema_context(schema):
        return connection_create(name="Oficial", provider="cloud_api", instance_name=phone_number_id,
                                 credentials={"access_token": fake.ACCESS_TOKEN, "app_secret": fake.APP_SECRET},
                                 config=config)


def conversation(conn, *, last_inbound_at):
    contact = Contact.objects.create(name="Maria", phone="+5511987654321")
    return Conversation.objects.create(contact=contact, connection=conn, last_inbound_at=last_inbound_at)


# --- the window -------------------------------------------------------------------------

def test_window_is_open_for_24_hours_after_the_customers_last_message(alpha):
    chat = conversation(cloud_connection(), last_inbound_at=NOW - timedelta(hours=23))
    window = service_window(chat, now=NOW)
    assert window == {"applies": True, "open": True, "expires_at": NOW + timedelta(hours=1), "seconds_left": 3600}
    ensure_can_send_free_form(chat, now=NOW)  # no error


def test_window_closes_when_the_24_hours_are_over(alpha):
    chat = conversation(cloud_connection(), last_inbound_at=NOW - timedelta(hours=24, seconds=1))
    window = service_window(chat, now=NOW)
    assert window["applies"] and not window["open"]
    assert window["seconds_left"] == 0
    assert window["expires_at"] == NOW - timedelta(seconds=1)
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        ensure_can_send_free_form(chat, now=NOW)
    assert caught.value.messages == ["The 24-hour window is closed: send an approved template."]
    assert caught.value.code == "window_closed"


def test_window_expires_exactly_at_24_hours(alpha):
    chat = conversation(cloud_connection(), last_inbound_at=NOW)
    assert service_window(chat, now=NOW + timedelta(hours=24) - timedelta(seconds=1))["open"]
    assert not service_window(chat, now=NOW + timedelta(hours=24))["open"]


def test_a_new_customer_message_reopens_the_window(alpha):
    chat = conversation(cloud_connection(), last_inbound_at=NOW - timedelta(days=3))
    assert not service_window(chat, now=NOW)["open"]
    chat.last_inbound_at = NOW - timedelta(minutes=1)
    assert service_window(chat, now=NOW)["seconds_left"] == 24 * 3600 - 60


def test_without_any_customer_message_only_templates_may_be_sent(alpha):
    chat = conversation(cloud_connection(), last_inbound_at=None)
    assert service_window(chat, now=NOW) == {"applies": True, "open": False, "expires_at": None, "seconds_left": 0}
    with pytest.raises(ValidationError):
        ensure_can_send_free_form(chat)


def test_providers_without_the_rule_are_never_restricted(alpha):
    conn = connection_create(name="QR", provider="evolution")
    chat = conversation(conn, last_inbound_at=NOW - timedelta(days=30))
    assert service_window(chat, now=NOW) == {"applies": False, "open": True, "expires_at": None, "seconds_left": 0}
    ensure_can_send_free_form(chat, now=NOW)


# --- templates --------------------------------------------------------------------------

def test_sync_keeps_approved_templates_with_their_variable_count(graph, alpha):
    graph.templates[:] = [
        fake.approved_template("pedido_pronto", "Olá {{1}}, seu pedido {{2}} está pronto. {{1}}, obrigado!"),
        fake.approved_template("boas_vindas", "Bem-vindo à Alpha Frios!"),
        fake.approved_template("promo", "Promoção {{1}}", status="REJECTED"),
        fake.approved_template("lembrete", "Oi {{1}}", status="PENDING"),
        fake.approved_template("pedido_pronto", "Hi {{1}}, order {{2}} is ready.", language="en_US"),
    ]
    conn = cloud_connection(graph)

    assert templates_sync(conn) == 3
    rows = {(t.name, t.language): t for t in MessageTemplate.objects.filter(connection=conn)}
    assert set(rows) == {("pedido_pronto", "pt_BR"), ("boas_vindas", "pt_BR"), ("pedido_pronto", "en_US")}
    assert rows[("pedido_pronto", "pt_BR")].variable_count == 2  # {{1}} twice counts once
    assert rows[("boas_vindas", "pt_BR")].variable_count == 0
    assert rows[("pedido_pronto", "pt_BR")].status == "APPROVED"
    assert rows[("pedido_pronto", "pt_BR")].category == "UTILITY"


def test_sync_updates_changed_and_deletes_vanished_templates(graph, alpha):
    graph.templates[:] = [fake.approved_template("a", "Um {{1}}"), fake.approved_template("b", "Dois")]
    conn = cloud_connection(graph)
    templates_sync(conn)
    first_id = MessageTemplate.objects.get(connection=conn, name="a").pk

    graph.templates[:] = [fake.approved_template("a", "Um {{1}} e {{2}}")]
    assert templates_sync(conn) == 1
    (row,) = MessageTemplate.objects.filter(connection=conn)
    assert (row.pk, row.name, row.variable_count) == (first_id, "a", 2)


def test_a_failed_sync_keeps_the_templates_we_had(graph, alpha):
    graph.templates[:] = [fake.approved_template("a", "Um")]
    conn = cloud_connection(graph)
    templates_sync(conn)
    conn.set_credentials({"access_token": "revoked"})
    with pytest.raises(PermanentProviderError, match="access token"):
        templates_sync(conn)
    assert MessageTemplate.objects.filter(connection=conn).count() == 1


def test_sync_only_touches_its_own_tenant(graph, tenant, other_tenant):
    graph.templates[:] = [fake.approved_template("a", "Um")]
    beta_conn = cloud_connection(graph, schema="beta")
    with schema_context("beta"):
        templates_sync(beta_conn)
    alpha_conn = cloud_connection(graph)
    graph.templates[:] = []
    with schema_context("alpha"):
        assert templates_sync(alpha_conn) == 0  # alpha's sync deletes alpha's vanished rows only
        assert not MessageTemplate.objects.exists()
    with schema_context("beta"):
        assert list(MessageTemplate.objects.values_list("name", flat=True)) == ["a"]


def test_preview_fills_the_variables(alpha):
    conn = cloud_connection()
    template = MessageTemplate.objects.create(
        connection=conn, name="pedido_pronto", language="pt_BR", variable_count=2,
        components=[{"type": "HEADER", "format": "TEXT", "text": "Pedido"},
                    {"type": "BODY", "text": "Olá {{1}}, seu pedido {{2}} está pronto. Até mais, {{1}}!"}])
    assert template_render_preview(template, ["Maria", " #123 "]) == \
        "Olá Maria, seu pedido #123 está pronto. Até mais, Maria!"
    assert template_outbound_payload(template, ["Maria", "#123"]) == {
        "name": "pedido_pronto", "language": "pt_BR", "variables": ["Maria", "#123"]}


def test_wrong_number_of_variables_is_a_readable_error(alpha):
    conn = cloud_connection()
    template = MessageTemplate.objects.create(connection=conn, name="pedido_pronto", language="pt_BR",
                                              variable_count=2, components=[{"type": "BODY", "text": "{{1}} {{2}}"}])
    with translation.override("en"):
        with pytest.raises(ValidationError) as caught:
            template_render_preview(template, ["Maria"])
        assert caught.value.messages == ["The template “pedido_pronto” needs 2 variables, 1 given."]
        with pytest.raises(ValidationError) as caught:
            template_outbound_payload(template, ["Maria", "  "])
        assert caught.value.messages == ["Fill in the template variable(s) {{2}}."]
