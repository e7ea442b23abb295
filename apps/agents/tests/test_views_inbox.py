"""The inbox side of the AI: "Why this answer?" on AI bubbles (server-rendered and the single
bubble the live page fetches), the decision it opens, and "Summarize conversation" — both
follow the inbox's visibility rule, so an agent who cannot see a conversation cannot see its
decisions or its summary."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils.html import escape
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.agents.models import Decision
from apps.agents.services import assistants as services
from apps.agents.services import providers as provider_services
from apps.inbox.tests.helpers_inbox import add_message, login, make_contact, make_conversation
from conftest import as_shown, make_user
from tests.fakes.openai_server import API_KEY, FakeOpenAI, reply


@pytest.fixture
def fake_openai():
    with FakeOpenAI() as fake:
        yield fake


def _html(response) -> str:
    return response.content.decode()


@pytest.fixture
def chat(tenant):
    """A conversation with a customer question, the AI's answer (with its decision) and a staff
    message; the conversation belongs to nobody yet (every agent sees it)."""
    with schema_context("alpha"):
        assistant = services.assistant_create(name="Ana", confidence_threshold=0.5)
        conversation = make_conversation(contact=make_contact("Maria Souza"))
        question = add_message(conversation, "Vocês entregam no centro?", minutes_ago=3)
        decision = Decision.objects.create(
            conversation=conversation, assistant=assistant, action="answered", confidence=0.74,
            input_message_ids=[question.pk], input_text=question.text, model="gpt-4o-mini", prompt_tokens=210,
            completion_tokens=18, cost=Decimal("0.000042"), latency_ms=812,
            chunks=[{"chunk_id": 7, "document_id": 2, "title": "Entregas", "score": 0.74, "fts_rank": 0.31,
                     "vector_score": 0.8, "text": "Entregamos no centro de segunda a sábado."}],
            tool_calls=[{"name": "save_contact_data", "arguments": {"city": "Recife"}, "ok": True,
                         "result": {"saved": ["city"]}},
                        {"name": "transfer_money", "arguments": "{}", "ok": False, "error": "tool not allowed"}])
        answer = add_message(conversation, "Sim! Entregamos no centro.", direction="out", sender_kind="ai",
                             payload={"decision_id": decision.pk}, minutes_ago=2)
        Decision.objects.filter(pk=decision.pk).update(reply_message_ids=[answer.pk])
        staff = add_message(conversation, "Oi Maria, aqui é a Joana.", direction="out", sender_kind="human",
                            minutes_ago=1)
    return {"conversation": conversation, "decision": decision, "answer": answer, "staff": staff,
            "assistant": assistant}


def _number(text: str, html: str) -> bool:
    """``text`` as written, or with the decimal comma of pt-BR."""
    return text in html or text.replace(".", ",") in html


def _why(decision) -> str:
    return f'href="/ai/activity/{decision.pk}/"'


# --- "Why this answer?" ---------------------------------------------------------------------------

def test_ai_bubbles_link_to_their_decision(owner_client, chat):
    conversation, decision = chat["conversation"], chat["decision"]
    html = _html(owner_client.get(f"/inbox/c/{conversation.pk}/"))
    assert html.count('data-testid="why-answer"') == 1  # the AI bubble only, not the staff one
    assert _why(decision) in html
    assert f'data-why-url="/ai/activity/{decision.pk}/?fragment=1"' in html
    # the single bubble the live page fetches after a socket event has the same link
    bubble = _html(owner_client.get(f"/inbox/m/{chat['answer'].pk}/"))
    assert _why(decision) in bubble
    assert 'data-testid="why-answer"' not in _html(owner_client.get(f"/inbox/m/{chat['staff'].pk}/"))


def test_a_broken_decision_id_does_not_break_the_inbox(owner_client, chat):
    with schema_context("alpha"):
        odd = add_message(chat["conversation"], "Resposta", direction="out", sender_kind="ai",
                          payload={"decision_id": "not-a-number"})
    response = owner_client.get(f"/inbox/m/{odd.pk}/")
    assert response.status_code == 200
    assert 'data-testid="why-answer"' not in _html(response)


def test_decision_detail_shows_the_whole_turn(owner_client, chat):
    decision = chat["decision"]
    response = owner_client.get(f"/ai/activity/{decision.pk}/")
    assert response.status_code == 200
    html = _html(response)
    assert "Vocês entregam no centro?" in html  # input
    assert "Entregamos no centro de segunda a sábado." in html and _number("0.740", html)  # chunk and score
    assert _number("<strong>0.74</strong>", html) and _number("0.50", html)  # confidence vs threshold
    assert "save_contact_data" in html and "Recife" in html  # tool call with arguments
    assert "transfer_money" in html and "tool not allowed" in html  # refused call with its error
    assert "Sim! Entregamos no centro." in html  # reply
    assert "210 + 18 = 228" in html and "812 ms" in html and _number("0.000042", html)
    assert f'href="/inbox/c/{chat["conversation"].pk}/"' in html  # back to the conversation
    # as the drawer's fragment: no page around it
    fragment = _html(owner_client.get(f"/ai/activity/{decision.pk}/?fragment=1"))
    assert 'data-testid="decision-detail"' in fragment and "<html" not in fragment
    htmx = _html(owner_client.get(f"/ai/activity/{decision.pk}/", HTTP_HX_REQUEST="true"))
    assert "<html" not in htmx


def test_agent_who_sees_the_conversation_sees_the_decision(tenant, chat):
    agent = login(tenant, make_user(tenant, email="agent@alpha.test", role=Role.AGENT))
    response = agent.get(f"/ai/activity/{chat['decision'].pk}/?fragment=1")
    assert response.status_code == 200
    # but the AI pages stay closed to them
    assert agent.get("/ai/activity/").status_code == 403


def test_agent_who_cannot_see_the_conversation_gets_404(tenant, chat):
    other = make_user(tenant, email="other@alpha.test", role=Role.AGENT)
    agent = login(tenant, make_user(tenant, email="agent@alpha.test", role=Role.AGENT))
    with schema_context("alpha"):
        chat["conversation"].assignee = other
        chat["conversation"].save(update_fields=["assignee"])
    assert agent.get(f"/ai/activity/{chat['decision'].pk}/").status_code == 404
    assert agent.get(f"/ai/activity/{chat['decision'].pk}/?fragment=1").status_code == 404
    assert agent.post(f"/ai/conversations/{chat['conversation'].pk}/summary/").status_code == 404
    # the assignee does see it
    assert login(tenant, other).get(f"/ai/activity/{chat['decision'].pk}/").status_code == 200


def test_staff_outside_the_inbox_get_403(tenant, chat, tenant_client):
    analyst = login(tenant, make_user(tenant, email="analyst@alpha.test", role=Role.ANALYST))
    assert analyst.get(f"/ai/activity/{chat['decision'].pk}/").status_code == 403
    assert analyst.post(f"/ai/conversations/{chat['conversation'].pk}/summary/").status_code == 403
    assert tenant_client.get(f"/ai/activity/{chat['decision'].pk}/").status_code == 302


def test_decision_of_another_company_is_not_found(owner_client, other_tenant, chat):
    with schema_context(other_tenant.schema_name):
        theirs = Decision.objects.create(conversation=make_conversation(contact=make_contact("Beta Secreta")),
                                         action="answered", input_text="segredo da beta")
    response = owner_client.get(f"/ai/activity/{theirs.pk}/")
    assert response.status_code == 404 or "segredo da beta" not in _html(response)
    with schema_context("alpha"):
        Decision.objects.filter(pk=theirs.pk).delete()  # alpha's own row with that id, if any, is gone
    assert owner_client.get(f"/ai/activity/{theirs.pk}/").status_code == 404


# --- "Summarize conversation" ---------------------------------------------------------------------

def test_chat_header_has_the_summarize_button(owner_client, chat):
    html = _html(owner_client.get(f"/inbox/c/{chat['conversation'].pk}/"))
    assert f'data-summary-url="/ai/conversations/{chat["conversation"].pk}/summary/"' in html
    assert 'id="inbox-drawer"' in html


def test_summary_in_retrieval_only_mode_is_an_extract(owner_client, chat, fake_openai):
    response = owner_client.post(f"/ai/conversations/{chat['conversation'].pk}/summary/")
    assert response.status_code == 200, _html(response)
    html = _html(response)
    assert 'data-testid="conversation-summary"' in html
    assert escape(as_shown(response, "Key messages (retrieval-only mode: no AI key)")) in html
    assert "entregam no centro" in html  # the extract quotes the customer's message
    assert fake_openai.requests == []  # no key: no model call


def test_summary_by_the_model(owner_client, chat, fake_openai):
    with schema_context("alpha"):
        provider_services.provider_create(name="Fake", base_url=fake_openai.base_url, model="gpt-4o-mini",
                                          api_key=API_KEY)
    fake_openai.script(reply("Cliente pergunta sobre entrega no centro; a IA confirmou."))
    response = owner_client.post(f"/ai/conversations/{chat['conversation'].pk}/summary/")
    assert response.status_code == 200
    html = _html(response)
    assert "Cliente pergunta sobre entrega no centro; a IA confirmou." in html
    assert escape(as_shown(response, "Summary")) in html
    assert escape(as_shown(response, "Key messages (retrieval-only mode: no AI key)")) not in html
    assert len(fake_openai.chat_requests()) == 1


def test_summary_model_failure_is_a_readable_502(owner_client, chat, fake_openai):
    with schema_context("alpha"):
        provider_services.provider_create(name="Fake", base_url=fake_openai.base_url, model="gpt-4o-mini",
                                          api_key="sk-wrong-key-aaaaaaaaaaaaaaaaaaaa")
    response = owner_client.post(f"/ai/conversations/{chat['conversation'].pk}/summary/")
    if response.status_code == 200:
        # the summary service may fall back to the extract on a model failure: that is fine too
        assert 'data-testid="conversation-summary"' in _html(response)
    else:
        assert response.status_code == 502
        assert 'role="alert"' in _html(response)
    assert "sk-wrong-key-aaaaaaaaaaaaaaaaaaaa" not in _html(response)


def test_summary_needs_post(owner_client, chat):
    assert owner_client.get(f"/ai/conversations/{chat['conversation'].pk}/summary/").status_code == 405


def test_summary_of_another_company_is_not_found(owner_client, other_tenant):
    with schema_context(other_tenant.schema_name):
        theirs = make_conversation(contact=make_contact("Beta Secreta"))
        add_message(theirs, "segredo da beta")
    response = owner_client.post(f"/ai/conversations/{theirs.pk}/summary/")
    assert response.status_code == 404 or "segredo da beta" not in _html(response)
