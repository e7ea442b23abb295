"""Inbox API under /api/v1/: conversations (list with filters, detail, assign, status, bot, read),
messages (cursor history, send text and media, retry), canned replies (CRUD); errors are 4xx
with a message; agents get 404 for conversations they may not see; alpha never reaches beta;
every endpoint is in the OpenAPI schema."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from apps.inbox.tests.helpers_inbox import add_message, make_connection, make_contact, make_conversation
from apps.inbox.tests.test_views import PNG
from conftest import PASSWORD, host_of, make_user

pytestmark = pytest.mark.django_db


def jwt_client(tenant, email) -> APIClient:
    client = APIClient(HTTP_HOST=host_of(tenant))
    response = client.post("/api/v1/auth/token/", {"email": email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


@pytest.fixture
def data(tenant):
    from apps.accounts.models import Team

    agent = make_user(tenant, email="api.agent@alpha.test", name="Api Agent")
    other = make_user(tenant, email="api.other@alpha.test", name="Other Agent")
    with schema_context("alpha"):
        team = Team.objects.create(name="Entregas")
        conn = make_connection("API Loja")
        mine = make_conversation(connection=conn, contact=make_contact("Lia Mine", tags=["atacado"]), assignee=agent)
        free = make_conversation(connection=conn, contact=make_contact("Fábio Free"))
        hidden = make_conversation(connection=conn, contact=make_contact("Hugo Hidden"), assignee=other)
        add_message(free, "bom dia, quero pizza", minutes_ago=1)
    return {"agent": agent, "other": other, "team": team, "conn": conn, "mine": mine, "free": free,
            "hidden": hidden, "client": jwt_client(tenant, "api.agent@alpha.test")}


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def test_list_and_detail_follow_visibility_and_filters(tenant, api_client, data):
    agent = data["client"]
    assert sorted(ids(agent.get("/api/v1/conversations/"))) == sorted([data["mine"].pk, data["free"].pk])
    assert sorted(ids(api_client.get("/api/v1/conversations/"))) == sorted(
        [data["mine"].pk, data["free"].pk, data["hidden"].pk])
    assert ids(agent.get("/api/v1/conversations/?view=mine")) == [data["mine"].pk]
    assert ids(agent.get("/api/v1/conversations/?q=pizza")) == [data["free"].pk]
    assert ids(api_client.get("/api/v1/conversations/?status=resolved")) == []
    with schema_context("alpha"):
        from apps.crm.models import Tag

        tag = Tag.objects.get(name="atacado")
    assert ids(api_client.get(f"/api/v1/conversations/?tag={tag.pk}")) == [data["mine"].pk]

    detail = agent.get(f"/api/v1/conversations/{data['free'].pk}/")
    assert detail.status_code == 200
    body = detail.json()
    assert body["contact"]["display_name"] == "Fábio Free" and body["last_message_preview"] == "bom dia, quero pizza"
    assert body["connection"]["name"] == "API Loja" and body["assignee"] is None
    assert agent.get(f"/api/v1/conversations/{data['hidden'].pk}/").status_code == 404
    assert agent.get("/api/v1/conversations/999999/").status_code == 404
    assert APIClient(HTTP_HOST=host_of(tenant)).get("/api/v1/conversations/").status_code == 401


def test_messages_history_with_cursors(api_client, data):
    with schema_context("alpha"):
        made = [add_message(data["mine"], f"m{i}", minutes_ago=60 - i).pk for i in range(40)]
    url = f"/api/v1/conversations/{data['mine'].pk}/messages/"
    page = api_client.get(url).json()
    assert [m["text"] for m in page["results"]] == [f"m{i}" for i in range(10, 40)]
    assert page["has_more"] is True
    older = api_client.get(f"{url}?before={made[10]}").json()
    assert [m["text"] for m in older["results"]] == [f"m{i}" for i in range(0, 10)] and older["has_more"] is False
    small = api_client.get(f"{url}?limit=5").json()
    assert [m["text"] for m in small["results"]] == [f"m{i}" for i in range(35, 40)]
    newer = api_client.get(f"{url}?after={made[37]}").json()
    assert [m["text"] for m in newer["results"]] == ["m38", "m39"]
    bad = api_client.get(f"{url}?before=x")
    assert bad.status_code == 400 and "before" in bad.json()
    assert data["client"].get(f"/api/v1/conversations/{data['hidden'].pk}/messages/").status_code == 404


def test_send_text_json_and_media_multipart(data):
    from apps.inbox.models import Message

    agent = data["client"]
    url = f"/api/v1/conversations/{data['free'].pk}/messages/"
    response = agent.post(url, {"text": "Oi {{contact.name}}!"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["text"], body["status"], body["sender_kind"]) == ("Oi Fábio Free!", "queued", "human")
    assert body["sender_user"]["id"] == data["agent"].pk
    image = SimpleUploadedFile("p.png", PNG, content_type="image/png")
    response = agent.post(url, {"text": "foto", "file": image}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["type"] == "image" and response.json()["media_url"].startswith("http://")

    empty = agent.post(url, {"text": ""}, format="json")
    assert empty.status_code == 400 and empty.json()["detail"]
    exe = SimpleUploadedFile("a.exe", b"MZ" * 50, content_type="application/x-msdownload")
    bad_type = agent.post(url, {"file": exe}, format="multipart")
    assert bad_type.status_code == 400 and "file" in bad_type.json()
    assert agent.post(f"/api/v1/conversations/{data['hidden'].pk}/messages/", {"text": "x"},
                      format="json").status_code == 404
    with schema_context("alpha"):
        assert Message.objects.filter(conversation=data["free"], sender_kind="human").count() == 2


def test_retry_endpoint(api_client, data, owner):
    with schema_context("alpha"):
        failed = add_message(data["free"], "falhou", direction="out", sender_kind="human", user=owner,
                             status="failed", error="timeout")
    response = api_client.post(f"/api/v1/messages/{failed.pk}/retry/")
    assert response.status_code == 200 and response.json()["status"] == "queued"
    again = api_client.post(f"/api/v1/messages/{failed.pk}/retry/")
    assert again.status_code == 400 and again.json()["detail"]
    with schema_context("alpha"):
        hidden = add_message(data["hidden"], "x", direction="out", sender_kind="human", status="failed")
    assert data["client"].post(f"/api/v1/messages/{hidden.pk}/retry/").status_code == 404


def test_assign_status_bot_and_read(data):
    agent = data["client"]
    base = f"/api/v1/conversations/{data['free'].pk}"
    response = agent.post(f"{base}/assign/", {"assignee": data["agent"].pk}, format="json")
    assert response.status_code == 200 and response.json()["assignee"]["id"] == data["agent"].pk
    response = agent.post(f"{base}/assign/", {"team": data["team"].pk}, format="json")
    assert response.status_code == 204  # into a team's queue he is not in: no longer his to see
    assert agent.post(f"{base}/assign/", {}, format="json").status_code == 404

    mine = f"/api/v1/conversations/{data['mine'].pk}"
    missing = agent.post(f"{mine}/assign/", {}, format="json")
    assert missing.status_code == 400 and missing.json()
    assert agent.post(f"{mine}/assign/", {"assignee": 999999}, format="json").status_code == 400
    assert agent.post(f"{mine}/assign/", {"team": "abc"}, format="json").status_code == 400
    assert agent.post(f"{mine}/status/", {"status": "archived"}, format="json").status_code == 400
    response = agent.post(f"{mine}/status/", {"status": "pending"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "pending"
    response = agent.post(f"{mine}/bot/pause/")
    assert response.status_code == 200 and response.json()["bot_state"] == "paused"
    response = agent.post(f"{mine}/bot/resume/")
    assert response.status_code == 200 and response.json()["bot_state"] == "ai_active"
    with schema_context("alpha"):
        from apps.inbox.models import Conversation

        Conversation.objects.filter(pk=data["mine"].pk).update(unread_count=4)
    assert agent.post(f"{mine}/read/").status_code == 204
    assert agent.get(f"{mine}/").json()["unread_count"] == 0
    hidden = f"/api/v1/conversations/{data['hidden'].pk}"
    for path in ("assign/", "status/", "bot/pause/", "bot/resume/", "read/"):
        assert agent.post(f"{hidden}/{path}", {"status": "open", "assignee": None}, format="json").status_code == 404


def test_analyst_has_no_inbox(tenant, data):
    make_user(tenant, email="api.analyst@alpha.test", role="analyst")
    analyst = jwt_client(tenant, "api.analyst@alpha.test")
    assert analyst.get("/api/v1/conversations/").status_code == 403
    assert analyst.get("/api/v1/canned-replies/").status_code == 403


def test_canned_replies_crud(tenant, api_client, data):
    created = api_client.post("/api/v1/canned-replies/", {"shortcut": "/Pix", "title": "Pix",
                                                          "text": "Chave: {{agent.name}}"}, format="json")
    assert created.status_code == 201, created.content
    reply = created.json()
    assert reply["shortcut"] == "pix"
    duplicate = api_client.post("/api/v1/canned-replies/", {"shortcut": "pix", "text": "x"}, format="json")
    assert duplicate.status_code == 400 and "shortcut" in duplicate.json()
    assert api_client.post("/api/v1/canned-replies/", {"shortcut": "a"}, format="json").status_code == 400
    assert [r["shortcut"] for r in data["client"].get("/api/v1/canned-replies/").json()] == ["pix"]
    # agents read them (the composer's list) but may not change them
    assert data["client"].post("/api/v1/canned-replies/", {"shortcut": "x", "text": "y"},
                               format="json").status_code == 403
    assert data["client"].delete(f"/api/v1/canned-replies/{reply['id']}/").status_code == 403
    patched = api_client.patch(f"/api/v1/canned-replies/{reply['id']}/", {"text": "Chave Pix nova"}, format="json")
    assert patched.status_code == 200 and patched.json()["text"] == "Chave Pix nova"
    put = api_client.put(f"/api/v1/canned-replies/{reply['id']}/", {"shortcut": "pix2", "text": "t"}, format="json")
    assert put.status_code == 200 and put.json()["shortcut"] == "pix2"
    assert api_client.get("/api/v1/canned-replies/?q=pix2").json()[0]["id"] == reply["id"]
    assert api_client.delete(f"/api/v1/canned-replies/{reply['id']}/").status_code == 204
    assert api_client.get(f"/api/v1/canned-replies/{reply['id']}/").status_code == 404


def test_alpha_never_reaches_beta(tenant, other_tenant, api_client, data):
    from apps.inbox.services.canned import canned_reply_create

    with schema_context("beta"):
        beta_conv = make_conversation(contact=make_contact("Bia Beta"))
        canned_reply_create(shortcut="beta-only", text="b")
    listed = api_client.get("/api/v1/conversations/?status=any").json()["results"]
    assert "Bia Beta" not in [row["contact"]["display_name"] for row in listed]
    assert [r["shortcut"] for r in api_client.get("/api/v1/canned-replies/").json()] == []
    # alpha's token on beta's domain is refused
    stolen = APIClient(HTTP_HOST=host_of(other_tenant))
    stolen.credentials(HTTP_AUTHORIZATION=api_client._credentials["HTTP_AUTHORIZATION"])
    assert stolen.get("/api/v1/conversations/").status_code == 401
    assert stolen.post(f"/api/v1/conversations/{beta_conv.pk}/messages/", {"text": "x"},
                       format="json").status_code == 401


def test_every_endpoint_is_in_the_schema(api_client):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    import json

    paths = json.loads(response.content)["paths"] if response["Content-Type"].startswith("application/json") else \
        __import__("yaml").safe_load(response.content)["paths"]
    for path in ["/api/v1/conversations/", "/api/v1/conversations/{id}/", "/api/v1/conversations/{id}/assign/",
                 "/api/v1/conversations/{id}/status/", "/api/v1/conversations/{id}/bot/pause/",
                 "/api/v1/conversations/{id}/bot/resume/", "/api/v1/conversations/{id}/read/",
                 "/api/v1/conversations/{id}/messages/", "/api/v1/messages/{id}/retry/",
                 "/api/v1/canned-replies/", "/api/v1/canned-replies/{id}/"]:
        assert path in paths, path
    send = paths["/api/v1/conversations/{id}/messages/"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(send)
