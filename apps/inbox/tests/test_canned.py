"""Canned replies: the management page (who may use it, create / edit / delete with htmx, errors
inline), the "/" list the composer gets, and variables filled in on the server when sent."""
from __future__ import annotations

import json
import re

import pytest
from django_tenants.utils import schema_context

from apps.inbox.tests.helpers_inbox import login, make_contact, make_conversation
from conftest import as_shown, make_user

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def shortcuts(response) -> list[str]:
    return re.findall(r'data-canned="([^"]+)"', response.content.decode())


def test_only_supervisors_and_admins_manage_canned_replies(tenant, owner_client, tenant_client):
    agent = make_user(tenant, email="agent.c@alpha.test")
    supervisor = make_user(tenant, email="sup.c@alpha.test", role="supervisor")
    assert login(tenant, agent).get("/inbox/canned/").status_code == 403
    assert login(tenant, agent).post("/inbox/canned/", {"shortcut": "x", "text": "y"}).status_code == 403
    assert login(tenant, supervisor).get("/inbox/canned/").status_code == 200
    assert owner_client.get("/inbox/canned/").status_code == 200
    assert tenant_client.get("/inbox/canned/").status_code == 302
    # the settings menu shows the entry to those who may use it
    assert 'data-nav="canned"' in owner_client.get("/inbox/").content.decode()
    assert 'data-nav="canned"' not in login(tenant, agent).get("/inbox/").content.decode()
    assert 'data-nav="inbox"' in login(tenant, agent).get("/inbox/").content.decode()


def test_create_edit_delete_with_inline_errors(tenant, owner_client):
    from apps.inbox.models import CannedReply

    response = owner_client.post("/inbox/canned/", {"shortcut": "/Horario", "title": "Horário",
                                                    "text": "Abrimos das 8h às 18h, {{contact.name}}."},
                                 headers=HTMX)
    assert response.status_code == 200
    assert shortcuts(response) == ["horario"]
    assert 'id="canned-section"' in response.content.decode()
    assert response["HX-Push-Url"] == "/inbox/canned/"

    duplicate = owner_client.post("/inbox/canned/", {"shortcut": "horario", "text": "outro"}, headers=HTMX)
    assert duplicate.status_code == 400
    html = duplicate.content.decode()
    assert 'class="field-error"' in html
    assert (as_shown(duplicate, "The shortcut /%(shortcut)s is already in use.") % {"shortcut": "horario"}) in html
    assert 'value="horario"' in html  # what was typed stays in the form

    empty = owner_client.post("/inbox/canned/", {"shortcut": "!!!", "text": ""}, headers=HTMX)
    assert empty.status_code == 400
    assert as_shown(empty, "This field is required.") in empty.content.decode()

    with schema_context("alpha"):
        reply = CannedReply.objects.get(shortcut="horario")
    form = owner_client.get(f"/inbox/canned/{reply.pk}/edit/", headers=HTMX)
    assert "Abrimos das 8h" in form.content.decode()
    edited = owner_client.post(f"/inbox/canned/{reply.pk}/edit/",
                               {"shortcut": "horas", "title": "", "text": "Das 9h às 17h."}, headers=HTMX)
    assert edited.status_code == 200 and shortcuts(edited) == ["horas"]
    owner_client.post("/inbox/canned/", {"shortcut": "pix", "text": "Chave Pix: loja@exemplo.com"})
    clash = owner_client.post(f"/inbox/canned/{reply.pk}/edit/", {"shortcut": "pix", "text": "x"}, headers=HTMX)
    assert clash.status_code == 400
    with schema_context("alpha"):
        reply.refresh_from_db()
        assert (reply.shortcut, reply.text) == ("horas", "Das 9h às 17h.")  # nothing lost

    search = owner_client.get("/inbox/canned/?q=pix", headers=HTMX)
    assert shortcuts(search) == ["pix"]
    deleted = owner_client.post(f"/inbox/canned/{reply.pk}/delete/", headers=HTMX)
    assert deleted.status_code == 200 and shortcuts(deleted) == ["pix"]
    # without htmx: a plain form post redirects back to the page
    plain = owner_client.post("/inbox/canned/", {"shortcut": "frete", "text": "Frete grátis acima de R$ 100."})
    assert plain.status_code == 302 and plain["Location"] == "/inbox/canned/"
    assert owner_client.post("/inbox/canned/999999/delete/").status_code == 404


def test_composer_gets_the_slash_list_and_variables_are_filled_on_send(tenant, owner_client, owner):
    from apps.inbox.models import Message
    from apps.inbox.services.canned import canned_reply_create

    with schema_context("alpha"):
        canned_reply_create(shortcut="ola", title="Saudação",
                            text="Olá {{contact.first_name}}! Sou {{ agent.name }}. Seu número: {{contact.phone}}. "
                                 "{{unknown.var}}", by=owner)
        conv = make_conversation(contact=make_contact("Joana Prado", "+5511988887777"))
    page = owner_client.get(f"/inbox/c/{conv.pk}/").content.decode()
    data = json.loads(re.search(r'<script id="inbox-canned" type="application/json">(.*?)</script>', page, re.S)
                      .group(1))
    assert data == [{"shortcut": "ola", "title": "Saudação",
                     "text": "Olá {{contact.first_name}}! Sou {{ agent.name }}. Seu número: {{contact.phone}}. "
                             "{{unknown.var}}"}]
    # what the "/" popup inserts is sent; the server fills the variables in
    response = owner_client.post(f"/inbox/c/{conv.pk}/send/", {"text": data[0]["text"]})
    assert response.status_code == 201
    with schema_context("alpha"):
        sent = Message.objects.get(conversation=conv, sender_kind="human")
    assert sent.text == (f"Olá Joana! Sou {owner.get_full_name()}. Seu número: +5511988887777. {{{{unknown.var}}}}")


def test_render_without_a_name_leaves_no_placeholder():
    from apps.crm.models import Contact
    from apps.inbox.services.canned import canned_render

    nameless = Contact(phone="+5511900000000")
    assert canned_render("Oi {{contact.name}}, tudo bem?", contact=nameless) == "Oi , tudo bem?"
    assert canned_render("Oi {{contact.name}}", contact=Contact(push_name="Zé")) == "Oi Zé"
    assert canned_render("sem variáveis") == "sem variáveis"


def test_canned_replies_are_per_company(tenant, other_tenant, owner_client):
    from apps.inbox.services.canned import canned_reply_create

    with schema_context("beta"):
        canned_reply_create(shortcut="segredo", text="só da beta")
    assert shortcuts(owner_client.get("/inbox/canned/")) == []
    assert "segredo" not in owner_client.get("/inbox/").content.decode()
