"""When the model fails, the customer still gets an answer or a person: one retry (after the
backoff) on a timeout, 5xx or 429, then the fallback message and a hand-off; an invalid key is not
retried, puts the assistant and its provider in an error state and tells the admins once."""
from __future__ import annotations

import pytest
from django.utils import translation

from apps.inbox.tests.helpers_inbox import make_contact, make_conversation
from tests.fakes.openai_server import error, reply

from .conftest import ai_messages, ai_texts, customer_turn, last_decision, make_assistant, make_provider


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def conversation(alpha):
    return make_conversation(contact=make_contact("Maria Souza"))


@pytest.fixture
def assistant(alpha):
    # business_hours tool enabled: the model is asked whatever the knowledge base holds
    return make_assistant(enabled_tools=["business_hours", "handoff_to_human"])


def handed_off(conversation, reason: str):
    conversation.refresh_from_db()
    decision = last_decision(conversation)
    assert conversation.bot_state == "waiting_human"
    assert ai_texts(conversation) == ["FALLBACK"]
    assert ai_messages(conversation)[0].payload == {"decision_id": decision.pk}
    assert (decision.action, decision.reason) == ("error", reason)
    return decision


def test_a_timeout_then_success_answers(conversation, assistant, fake_llm):
    make_provider(fake_llm, timeout_seconds=1)
    fake_llm.script(reply("too late", delay=1.6), reply("Abrimos às 8h!"))
    customer_turn(conversation, "Que horas vocês abrem?")
    assert len(fake_llm.chat_requests()) == 2
    assert ai_texts(conversation) == ["Abrimos às 8h!"]
    conversation.refresh_from_db()
    assert conversation.bot_state == "ai_active"
    assert last_decision(conversation).action == "answered"


def test_two_timeouts_fall_back_and_hand_off(conversation, assistant, fake_llm):
    make_provider(fake_llm, timeout_seconds=1)
    fake_llm.script(reply("late", delay=1.6), reply("late again", delay=1.6))
    customer_turn(conversation, "Que horas vocês abrem?")
    assert len(fake_llm.chat_requests()) == 2
    decision = handed_off(conversation, "model_timeout")
    assert "did not answer in time" in decision.error


def test_429_then_500_hands_off(conversation, assistant, fake_llm):
    make_provider(fake_llm)
    fake_llm.script(error(429), error(500), reply("never"))
    customer_turn(conversation, "Que horas vocês abrem?")
    assert len(fake_llm.chat_requests()) == 2
    decision = handed_off(conversation, "model_server_error")
    assert "server had an error" in decision.error


def test_429_then_success_answers(conversation, assistant, fake_llm):
    make_provider(fake_llm)
    fake_llm.script(error(429), reply("Abrimos às 8h!"))
    customer_turn(conversation, "Que horas vocês abrem?")
    assert ai_texts(conversation) == ["Abrimos às 8h!"]


def test_a_bad_request_is_not_retried(conversation, assistant, fake_llm):
    make_provider(fake_llm)
    fake_llm.script(error(400, "context too long"), reply("never"))
    customer_turn(conversation, "Que horas vocês abrem?")
    assert len(fake_llm.chat_requests()) == 1
    handed_off(conversation, "model_bad_request")


def test_an_invalid_key_errors_the_assistant_and_tells_the_admins_once(alpha, owner, assistant, fake_llm):
    from apps.agents.models import Assistant, ModelProvider
    from apps.inbox.services.bot import bot_resume
    from apps.notifications.models import Notification

    provider = make_provider(fake_llm, api_key="sk-wrong-key-999999")
    first = make_conversation(contact=make_contact("Maria"))
    customer_turn(first, "Que horas vocês abrem?")
    assert len(fake_llm.chat_requests()) == 1  # no retry
    decision = handed_off(first, "model_auth_error")
    assert "Incorrect API key" in decision.error and "sk-wrong-key-999999" not in decision.error
    assistant.refresh_from_db()
    provider.refresh_from_db()
    assert assistant.status == Assistant.Status.ERROR and "Incorrect API key" in assistant.last_error
    assert provider.status == ModelProvider.Status.ERROR and provider.error_notified_at is not None
    notices = Notification.objects.filter(kind="ai_provider_error")
    assert [n.recipient_id for n in notices] == [owner.pk]
    assert "sk-wrong-key-999999" not in notices[0].body

    # a second turn (another customer; and the first back with the bot): still one request each, no new notice
    second = make_conversation(contact=make_contact("João"))
    customer_turn(second, "Vocês entregam?")
    bot_resume(first)
    customer_turn(first, "Oi?")
    assert len(fake_llm.chat_requests()) == 3
    assert Notification.objects.filter(kind="ai_provider_error").count() == 1
    assert ai_texts(second) == ["FALLBACK"]

    # the key is fixed: the next call succeeds and clears the error state
    provider.api_key = fake_llm.api_key
    provider.save()
    third = make_conversation(contact=make_contact("Rita"))
    customer_turn(third, "Que horas vocês abrem?")
    assert ai_texts(third) == ["Certo!"]
    provider.refresh_from_db()
    assistant.refresh_from_db()
    assert provider.status == "ok" and provider.error_notified_at is None and provider.last_error == ""
    assert assistant.status == "ok" and assistant.last_error == ""


def test_a_message_without_text_goes_to_a_person(conversation, alpha, fake_llm):
    """A photo without a caption in retrieval-only mode: nothing to search, a person takes over."""
    make_assistant()
    customer_turn(conversation, "", types={0: "image"})
    conversation.refresh_from_db()
    assert ai_texts(conversation) == ["GREETING", "FALLBACK"]
    assert conversation.bot_state == "waiting_human"
    assert last_decision(conversation).reason == "no_text"


def test_handoff_without_a_team_tells_everyone_who_can_reply(conversation, alpha, owner, fake_llm,
                                                              django_capture_on_commit_callbacks, mailoutbox):
    from apps.accounts.models import User
    from apps.notifications.models import Notification

    from conftest import make_user

    agent = make_user(alpha, email="agent@alpha.test", role="agent")
    analyst = make_user(alpha, email="analyst@alpha.test", role="analyst")
    User.objects.filter(pk__in=[agent.pk, analyst.pk]).update(notify_by_email=True)
    make_provider(fake_llm)
    make_assistant(enabled_tools=["handoff_to_human"])
    fake_llm.script(error(500), error(503))
    with django_capture_on_commit_callbacks(execute=True):
        customer_turn(conversation, "Oi, preciso de ajuda com meu pedido")
    recipients = set(Notification.objects.filter(kind="handoff").values_list("recipient__email", flat=True))
    assert recipients == {owner.email, "agent@alpha.test"}
    assert [m.to for m in mailoutbox if "Maria Souza" in m.subject] == [["agent@alpha.test"]]
