"""The inbox page: who sees which conversations, the list's filters and search, the chat (history,
cursor pages, system lines), sending from the composer (variables, attachments, bad input), the
contact panel's actions, and tenant isolation."""
from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from apps.inbox.tests.helpers_inbox import add_message, login, make_connection, make_contact, make_conversation
from conftest import as_shown, make_user

pytestmark = pytest.mark.django_db

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture
def world(tenant):
    """Alpha: two agents (Bruno in Vendas, Carla in Suporte) and conversations of every kind."""
    from apps.accounts.models import Team

    bruno = make_user(tenant, email="bruno@alpha.test", name="Bruno Lima")
    carla = make_user(tenant, email="carla@alpha.test", name="Carla Dias")
    with schema_context("alpha"):
        vendas = Team.objects.create(name="Vendas")
        suporte = Team.objects.create(name="Suporte")
        vendas.members.add(bruno)
        suporte.members.add(carla)
        loja = make_connection("Loja")
        delivery = make_connection("Delivery")
        convs = {
            "mine": make_conversation(connection=loja, contact=make_contact("Ana Mine", "+5511911110001",
                                                                            tags=["vip"]), assignee=bruno),
            "free": make_conversation(connection=loja, contact=make_contact("Otto Free", "+5511922220002")),
            "sales": make_conversation(connection=delivery, contact=make_contact("Vera Vendas", "+5511933330003"),
                                        team=vendas),
            "carlas": make_conversation(connection=loja, contact=make_contact("Caio Carla", "+5511944440004"),
                                       assignee=carla),
            "support": make_conversation(connection=loja, contact=make_contact("Sara Suporte", "+5511955550005"),
                                         team=suporte),
            "done": make_conversation(connection=loja, contact=make_contact("Rui Resolved", "+5511966660006"),
                                      status="resolved"),
        }
        add_message(convs["mine"], "quero 2 kg de presunto", minutes_ago=3)
        add_message(convs["free"], "vocês abrem domingo?", minutes_ago=2)
        add_message(convs["sales"], "tem mortadela?", minutes_ago=1)
    return {"bruno": bruno, "carla": carla, "vendas": vendas, "suporte": suporte, "loja": loja,
            "delivery": delivery, **convs}


def names(response) -> list[str]:
    return re.findall(r'data-row-name>([^<]+)<', response.content.decode())


def test_anonymous_goes_to_login_and_analyst_is_refused(tenant, tenant_client):
    response = tenant_client.get("/inbox/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    analyst = make_user(tenant, email="analyst@alpha.test", role="analyst")
    assert login(tenant, analyst).get("/inbox/").status_code == 403


def test_agent_sees_his_own_unassigned_and_his_teams_conversations(tenant, world):
    bruno = login(tenant, world["bruno"])
    response = bruno.get("/inbox/")
    assert response.status_code == 200
    assert sorted(names(response)) == ["Ana Mine", "Otto Free", "Vera Vendas"]
    # newest activity first
    assert names(response) == ["Vera Vendas", "Otto Free", "Ana Mine"]
    assert bruno.get(f"/inbox/c/{world['carlas'].pk}/").status_code == 404
    assert bruno.get(f"/inbox/c/{world['support'].pk}/?fragment=1").status_code == 404
    assert bruno.post(f"/inbox/c/{world['carlas'].pk}/send/", {"text": "oi"}).status_code == 404
    assert bruno.get(f"/inbox/c/{world['carlas'].pk}/row/").status_code == 204


def test_admin_sees_everything_and_filters_narrow_the_list(tenant, owner_client, world):
    everything = names(owner_client.get("/inbox/"))
    assert sorted(everything) == ["Ana Mine", "Caio Carla", "Otto Free", "Sara Suporte", "Vera Vendas"]
    assert names(owner_client.get("/inbox/?status=resolved")) == ["Rui Resolved"]
    assert len(names(owner_client.get("/inbox/?status=any"))) == 6
    # unassigned = no agent yet (a team's queue included)
    assert sorted(names(owner_client.get("/inbox/list/?view=unassigned"))) == ["Otto Free", "Sara Suporte",
                                                                               "Vera Vendas"]
    assert names(owner_client.get(f"/inbox/list/?team={world['vendas'].pk}")) == ["Vera Vendas"]
    assert names(owner_client.get(f"/inbox/list/?connection={world['delivery'].pk}")) == ["Vera Vendas"]
    with schema_context("alpha"):
        from apps.crm.models import Tag

        vip = Tag.objects.get(name="vip")
    assert names(owner_client.get(f"/inbox/list/?tag={vip.pk}")) == ["Ana Mine"]
    # search: name, phone digits (any formatting), message text
    assert names(owner_client.get("/inbox/list/?q=otto")) == ["Otto Free"]
    assert names(owner_client.get("/inbox/list/?q=(11) 93333-0003")) == ["Vera Vendas"]
    assert names(owner_client.get("/inbox/list/?q=presunto")) == ["Ana Mine"]
    empty = owner_client.get("/inbox/list/?q=nothing-like-this")
    assert names(empty) == []
    assert as_shown(empty, "No conversation matches these filters.") in empty.content.decode()
    # junk in the filters is ignored, never a 500
    assert owner_client.get("/inbox/list/?team=abc&status=bogus&view=../../etc&tag=-1").status_code == 200


def test_mine_filter_for_an_agent(tenant, world):
    bruno = login(tenant, world["bruno"])
    assert names(bruno.get("/inbox/list/?view=mine")) == ["Ana Mine"]
    assert names(bruno.get("/inbox/list/?view=team")) == ["Vera Vendas"]


def test_list_row_shows_preview_unread_badge_and_bot_state(tenant, owner_client, world):
    from apps.inbox.models import Conversation

    with schema_context("alpha"):
        Conversation.objects.filter(pk=world["free"].pk).update(unread_count=3, bot_state="waiting_human")
    html = owner_client.get(f"/inbox/c/{world['free'].pk}/row/").content.decode()
    assert "vocês abrem domingo?" in html
    assert re.search(r"data-unread[^>]*>3<", html)
    assert 'data-bot-badge="waiting_human"' in html
    assert ">OF<" in html  # avatar initials


def test_chat_shows_bubbles_events_and_marks_read(tenant, owner_client, owner, world):
    conv = world["mine"]
    with schema_context("alpha"):
        conv.unread_count = 2
        conv.save()
        add_message(conv, "Claro! Temos presunto cozido.", direction="out", sender_kind="ai", status="read")
        add_message(conv, "Separei para você.", direction="out", sender_kind="human", user=owner, status="delivered")
        add_message(conv, "Não foi", direction="out", sender_kind="human", user=owner, status="failed",
                    error="number not on WhatsApp")
        from apps.inbox.services.conversations import conversation_assign

        conversation_assign(conversation=conv, team=world["vendas"], assignee=world["bruno"], by=owner)
    response = owner_client.get(f"/inbox/c/{conv.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "quero 2 kg de presunto" in html
    assert as_shown(response, "AI assistant") in html
    assert owner.name in html  # the human's name on the bubble
    assert 'data-testid="ticks-read"' in html and 'data-testid="ticks-delivered"' in html
    assert "number not on WhatsApp" in html and as_shown(response, "Retry") in html
    assert (as_shown(response, "Assigned to %(agent)s (%(team)s)") % {"agent": "Bruno Lima", "team": "Vendas"}) in html
    assert as_shown(response, "Today") in html  # date separator
    # the chat history is not mistaken for the page's flash messages (it once showed each message
    # as an alert reading "Message object (6)")
    assert "Message object" not in html
    with schema_context("alpha"):
        conv.refresh_from_db()
        assert conv.unread_count == 0


def test_history_pages_with_before_and_after_cursors(tenant, owner_client):
    with schema_context("alpha"):
        conv = make_conversation()
        ids = [add_message(conv, f"mensagem {i}", minutes_ago=100 - i).pk for i in range(75)]
    first = owner_client.get(f"/inbox/c/{conv.pk}/?fragment=1").content.decode()
    assert re.findall(r"mensagem (\d+)<", first) == [str(i) for i in range(45, 75)]
    assert 'data-has-more="1"' in first
    older = owner_client.get(f"/inbox/c/{conv.pk}/messages/?before={ids[45]}")
    assert older["X-Has-More"] == "1"
    assert re.findall(r"mensagem (\d+)<", older.content.decode()) == [str(i) for i in range(15, 45)]
    oldest = owner_client.get(f"/inbox/c/{conv.pk}/messages/?before={ids[15]}")
    assert oldest["X-Has-More"] == "0"
    assert re.findall(r"mensagem (\d+)<", oldest.content.decode()) == [str(i) for i in range(0, 15)]
    newer = owner_client.get(f"/inbox/c/{conv.pk}/messages/?after={ids[72]}").content.decode()
    assert re.findall(r"mensagem (\d+)<", newer) == ["73", "74"]
    assert owner_client.get(f"/inbox/c/{conv.pk}/messages/?before=abc").status_code == 400


def test_send_text_fills_variables_and_answers_the_bubble(tenant, world):
    from apps.inbox.models import Message

    bruno = login(tenant, world["bruno"])
    response = bruno.post(f"/inbox/c/{world['mine'].pk}/send/",
                          {"text": "Olá {{contact.name}}, aqui é {{agent.name}}.\nSegunda linha"})
    assert response.status_code == 201
    assert "Olá Ana Mine, aqui é Bruno Lima." in response.content.decode()
    with schema_context("alpha"):
        message = Message.objects.filter(conversation=world["mine"], sender_kind="human").get()
        assert message.text == "Olá Ana Mine, aqui é Bruno Lima.\nSegunda linha"
        assert (message.sender_kind, message.sender_user_id, message.status) == ("human", world["bruno"].pk, "queued")
        world["mine"].refresh_from_db()
        assert world["mine"].bot_state == "human_active"


def test_send_rejects_bad_input_with_a_message(tenant, world, settings):
    from apps.inbox.models import Message

    bruno = login(tenant, world["bruno"])
    url = f"/inbox/c/{world['mine'].pk}/send/"
    empty = bruno.post(url, {"text": "   "})
    assert empty.status_code == 400
    assert empty.json()["errors"] == [as_shown(empty, "Type a message or attach a file.")]
    too_long = bruno.post(url, {"text": "x" * 5000})
    assert too_long.status_code == 400 and too_long.json()["errors"]

    settings.INBOX_ATTACHMENT_MAX_BYTES = 1024
    big = SimpleUploadedFile("foto.png", PNG + b"\x00" * 2000, content_type="image/png")
    response = bruno.post(url, {"text": "", "file": big})
    assert response.status_code == 400
    assert "too large" in response.json()["errors"][0] or "grande" in response.json()["errors"][0]
    exe = SimpleUploadedFile("virus.exe", b"MZ\x90\x00" * 10, content_type="application/x-msdownload")
    response = bruno.post(url, {"file": exe})
    assert response.status_code == 400 and response.json()["errors"]
    # a file claiming to be an image but not one: the server sniffs the bytes
    fake = SimpleUploadedFile("foto.png", b"MZ\x90\x00" * 10, content_type="image/png")
    assert bruno.post(url, {"file": fake}).status_code == 400
    with schema_context("alpha"):
        assert not Message.objects.filter(conversation=world["mine"], direction="out").exists()


def test_attachment_too_large_at_the_real_16_mb_limit(tenant, world):
    bruno = login(tenant, world["bruno"])
    big = SimpleUploadedFile("video.mp4", b"\x00" * (16 * 1024 * 1024 + 1), content_type="video/mp4")
    response = bruno.post(f"/inbox/c/{world['mine'].pk}/send/", {"file": big})
    assert response.status_code == 400
    assert "16" in response.json()["errors"][0]


def test_send_an_image_with_a_caption(tenant, world):
    from apps.inbox.models import Message

    bruno = login(tenant, world["bruno"])
    image = SimpleUploadedFile("cardapio.png", PNG, content_type="image/png")
    response = bruno.post(f"/inbox/c/{world['mine'].pk}/send/", {"text": "nosso cardápio", "file": image})
    assert response.status_code == 201, response.content
    assert "<img" in response.content.decode()
    with schema_context("alpha"):
        message = Message.objects.get(conversation=world["mine"], sender_kind="human")
        assert (message.type, message.media_mime, message.text) == ("image", "image/png", "nosso cardápio")


def test_retry_a_failed_message(tenant, owner, world):
    bruno = login(tenant, world["bruno"])
    with schema_context("alpha"):
        failed = add_message(world["mine"], "não foi", direction="out", sender_kind="human", user=owner,
                             status="failed", error="timeout")
        delivered = add_message(world["mine"], "foi", direction="out", sender_kind="human", user=owner,
                                status="delivered")
    response = bruno.post(f"/inbox/m/{failed.pk}/retry/")
    assert response.status_code == 200
    assert 'data-testid="ticks-queued"' in response.content.decode()
    with schema_context("alpha"):
        failed.refresh_from_db()
        assert (failed.status, failed.error) == ("queued", "")
    assert bruno.post(f"/inbox/m/{delivered.pk}/retry/").status_code == 400
    with schema_context("alpha"):
        hidden = add_message(world["carlas"], "x", direction="out", sender_kind="human", status="failed")
    assert bruno.post(f"/inbox/m/{hidden.pk}/retry/").status_code == 404
    assert bruno.get(f"/inbox/m/{hidden.pk}/").status_code == 404


def test_panel_actions_assign_status_and_bot(tenant, owner, world):
    bruno = login(tenant, world["bruno"])
    conv = world["free"]
    headers = {"X-Requested-With": "fetch"}
    response = bruno.post(f"/inbox/c/{conv.pk}/assign/", {"assignee": "me"}, headers=headers)
    assert response.status_code == 200
    assert 'data-testid="contact-panel"' in response.content.decode()
    with schema_context("alpha"):
        conv.refresh_from_db()
        assert conv.assignee_id == world["bruno"].pk and conv.assigned_at is not None
    response = bruno.post(f"/inbox/c/{conv.pk}/status/", {"status": "pending"}, headers=headers)
    assert response.status_code == 200
    bad = bruno.post(f"/inbox/c/{conv.pk}/status/", {"status": "archived"}, headers=headers)
    assert bad.status_code == 400 and 'data-testid="panel-error"' in bad.content.decode()
    assert bruno.post(f"/inbox/c/{conv.pk}/bot/pause/", headers=headers).status_code == 200
    with schema_context("alpha"):
        conv.refresh_from_db()
        assert (conv.status, conv.bot_state) == ("pending", "paused")
    assert bruno.post(f"/inbox/c/{conv.pk}/bot/resume/", headers=headers).status_code == 200
    # without script: back to the chat
    plain = bruno.post(f"/inbox/c/{conv.pk}/status/", {"status": "open"})
    assert plain.status_code == 302 and plain["Location"] == f"/inbox/c/{conv.pk}/"
    # to a team he is not in: the conversation leaves his inbox
    moved = bruno.post(f"/inbox/c/{conv.pk}/assign/", {"team": world["suporte"].pk, "assignee": ""}, headers=headers)
    assert moved.status_code == 200
    assert bruno.get(f"/inbox/c/{conv.pk}/").status_code == 404
    bad_team = login(tenant, owner).post(f"/inbox/c/{conv.pk}/assign/", {"team": "999999"}, headers=headers)
    assert bad_team.status_code == 400


def test_previous_conversations_are_linked(tenant, owner_client, world):
    with schema_context("alpha"):
        old = make_conversation(connection=world["delivery"], contact=world["mine"].contact, status="resolved",
                                last_message_preview="pedido antigo")
    html = owner_client.get(f"/inbox/c/{world['mine'].pk}/").content.decode()
    assert f'href="/inbox/c/{old.pk}/"' in html and "pedido antigo" in html


def test_beta_never_sees_alpha_conversations(tenant, other_tenant, world):
    with schema_context("beta"):
        make_conversation(contact=make_contact("Beto Beta", "+5511977770007"))
    beta_owner = make_user(other_tenant, email="admin2@beta.test", role="admin")
    beta = login(other_tenant, beta_owner)
    response = beta.get("/inbox/?status=any")
    assert names(response) == ["Beto Beta"]
    assert "Ana Mine" not in beta.get("/inbox/list/?q=Ana").content.decode()
    # an alpha session does not open beta's inbox
    alpha_client = login(tenant, world["bruno"])
    alpha_client.defaults["HTTP_HOST"] = beta.defaults["HTTP_HOST"]
    assert alpha_client.get("/inbox/").status_code == 302


def test_cloud_api_window_shows_time_left_then_only_templates(tenant, owner_client):
    from datetime import timedelta

    from django.utils import timezone

    from apps.inbox.models import Message
    from apps.whatsapp.models import MessageTemplate
    from apps.whatsapp.services.connections import connection_create

    with schema_context("alpha"):
        cloud = connection_create(name="Oficial", provider="cloud_api", instance_name="1234567890")
        open_chat = make_conversation(connection=cloud, contact=make_contact("Olga Open"),
                                      last_inbound_at=timezone.now() - timedelta(hours=20, minutes=30))
        closed = make_conversation(connection=cloud, contact=make_contact("Caco Closed"),
                                   last_inbound_at=timezone.now() - timedelta(hours=30))
        template = MessageTemplate.objects.create(
            connection=cloud, name="pedido_pronto", language="pt_BR", status="APPROVED", variable_count=1,
            components=[{"type": "BODY", "text": "Olá {{1}}, seu pedido está pronto!"}])

    html = owner_client.get(f"/inbox/c/{open_chat.pk}/").content.decode()
    assert 'data-testid="window-open"' in html
    assert re.search(r"data-window-left>3h (29|30)min<", html)
    assert 'data-testid="composer"' in html

    response = owner_client.get(f"/inbox/c/{closed.pk}/")
    html = response.content.decode()
    assert 'data-testid="window-closed"' in html and 'data-testid="composer"' not in html
    assert "pedido_pronto" in html
    # free text is refused by the server too, not only hidden
    refused = owner_client.post(f"/inbox/c/{closed.pk}/send/", {"text": "oi"})
    assert refused.status_code == 400 and refused.json()["errors"]
    missing = owner_client.post(f"/inbox/c/{closed.pk}/send/", {"template": template.pk, "variables": ""})
    assert missing.status_code == 400 and missing.json()["errors"]
    sent = owner_client.post(f"/inbox/c/{closed.pk}/send/",
                             {"template": template.pk, "variables": "{{contact.name}}"})
    assert sent.status_code == 201, sent.content
    assert "Olá Caco Closed, seu pedido está pronto!" in sent.content.decode()
    with schema_context("alpha"):
        message = Message.objects.get(conversation=closed, sender_kind="human")
        assert (message.type, message.payload) == ("template", {"name": "pedido_pronto", "language": "pt_BR",
                                                                "variables": ["Caco Closed"]})


def test_panel_shows_the_contacts_email_and_custom_fields(tenant, owner_client, world):
    conv = world["mine"]
    with schema_context("alpha"):
        from apps.crm.services import contact_set_custom, contact_update

        contact_update(conv.contact, email="maria@exemplo.com")
        contact_set_custom(conv.contact, {"city": "Campinas", "cpf": "123.456.789-00"})
    html = owner_client.get(f"/inbox/c/{conv.pk}/panel/").content.decode()
    details = html.split('data-testid="contact-details"', 1)[1].split("</section>", 1)[0]
    assert "maria@exemplo.com" in details and "Campinas" in details and "123.456.789-00" in details
