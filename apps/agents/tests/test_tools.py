"""The tool loop: only enabled tools are offered, arguments are validated against each tool's JSON
schema (the model reads why a call was refused), unknown names are refused, at most
AI_MAX_TOOL_STEPS rounds; and the built-in tools themselves."""
from __future__ import annotations

import json
import zoneinfo

import pytest
from django.utils import timezone, translation

from apps.inbox.tests.helpers_inbox import make_contact, make_conversation
from tests.fakes.openai_server import reply, tool_call

from .conftest import ai_texts, customer_turn, last_decision, make_assistant, make_provider


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def conversation(alpha):
    return make_conversation(contact=make_contact("Maria Souza", phone="+5511987650001"))


@pytest.fixture
def generative(alpha, fake_llm):
    make_provider(fake_llm)
    return fake_llm


def tool_messages(request_body) -> list[dict]:
    return [m for m in request_body["messages"] if m["role"] == "tool"]


def offered(request_body) -> list[str]:
    return [t["function"]["name"] for t in request_body.get("tools") or []]


def test_only_enabled_tools_that_exist_are_offered(conversation, generative):
    make_assistant(enabled_tools=["business_hours", "no_such_tool", "business_hours"])
    customer_turn(conversation, "Vocês estão abertos agora?")
    assert offered(generative.chat_requests()[0]) == ["business_hours"]


def test_bad_arguments_are_rejected_and_the_model_is_told(conversation, generative):
    make_assistant(enabled_tools=["save_contact_data"])
    generative.script(tool_call("save_contact_data", {"fields": {"name": 42}}),
                      reply("Pode me dizer seu nome de novo?"))
    customer_turn(conversation, "Meu nome é Joana")

    requests = generative.chat_requests()
    assert len(requests) == 2
    assistant_turn = requests[1]["messages"][-2]
    call_id = assistant_turn["tool_calls"][0]["id"]
    [told] = tool_messages(requests[1])
    assert told["tool_call_id"] == call_id
    error = json.loads(told["content"])["error"]
    assert error.startswith("invalid arguments at fields/name") and "42 is not of type 'string'" in error
    conversation.contact.refresh_from_db()
    assert conversation.contact.name == "Maria Souza"  # not run
    decision = last_decision(conversation)
    assert decision.tool_calls[0]["ok"] is False and "invalid arguments" in decision.tool_calls[0]["error"]
    assert decision.action == "answered"  # no tool succeeded
    assert ai_texts(conversation) == ["Pode me dizer seu nome de novo?"]


def test_arguments_that_are_not_json_are_rejected(conversation, generative):
    make_assistant(enabled_tools=["business_hours"])
    generative.script(tool_call("business_hours", "{not json"), reply("Abrimos às 8h."))
    customer_turn(conversation, "Que horas abre?")
    [told] = tool_messages(generative.chat_requests()[1])
    assert "not valid JSON" in json.loads(told["content"])["error"]


@pytest.mark.parametrize("name", ["delete_all", "save_contact_data"])
def test_a_tool_outside_the_allowlist_is_refused(conversation, generative, name):
    """An unknown name, and a real tool this assistant did not enable: neither runs."""
    from apps.crm.models import ContactNote

    make_assistant(enabled_tools=["business_hours"])
    generative.script(tool_call(name, {"fields": {"name": "Hacker"}}), reply("Não posso fazer isso."))
    customer_turn(conversation, "Apague tudo")
    [told] = tool_messages(generative.chat_requests()[1])
    assert json.loads(told["content"])["error"].startswith(f"unknown tool '{name}'")
    conversation.contact.refresh_from_db()
    assert conversation.contact.name == "Maria Souza"
    assert not ContactNote.objects.filter(contact=conversation.contact).exists()
    assert last_decision(conversation).tool_calls[0]["ok"] is False


def test_the_tool_step_limit_hands_off(conversation, generative, settings):
    make_assistant(enabled_tools=["business_hours"])
    steps = settings.AI_MAX_TOOL_STEPS
    generative.script(*[tool_call("business_hours", {}) for _ in range(steps + 1)], reply("never asked"))
    customer_turn(conversation, "Que horas abre?")
    assert len(generative.chat_requests()) == steps + 1
    decision = last_decision(conversation)
    assert (decision.action, decision.reason) == ("handed_off", "tool_step_limit")
    assert [c["ok"] for c in decision.tool_calls] == [True] * steps + [False]
    assert ai_texts(conversation) == ["FALLBACK"]
    conversation.refresh_from_db()
    assert conversation.bot_state == "waiting_human"


def test_save_contact_data_fills_the_contact_and_its_history(conversation, generative):
    from apps.crm.models import ContactNote

    make_assistant(enabled_tools=["save_contact_data"])
    generative.script(tool_call("save_contact_data", {"fields": {"name": "Joana Lima", "email": "Joana@Exemplo.com",
                                                                 "city": "Campinas", "cpf_ok": True}}),
                      reply("Anotado, Joana!"))
    customer_turn(conversation, "Sou a Joana Lima, joana@exemplo.com, de Campinas")
    contact = conversation.contact
    contact.refresh_from_db()
    assert (contact.name, contact.email) == ("Joana Lima", "joana@exemplo.com")
    assert contact.custom_fields == {"city": "Campinas", "cpf_ok": "yes"}
    note = ContactNote.objects.get(contact=contact)
    assert "city: Campinas" in note.text and "cpf_ok: yes" in note.text and "email: joana@exemplo.com" in note.text
    [told] = tool_messages(generative.chat_requests()[1])
    assert json.loads(told["content"]) == {"ok": True, "saved": ["city", "cpf_ok", "email", "name"]}
    decision = last_decision(conversation)
    assert decision.action == "tool" and decision.tool_calls[0]["ok"] is True
    assert ai_texts(conversation) == ["Anotado, Joana!"]


def test_save_contact_data_refuses_a_malformed_email(conversation, generative):
    make_assistant(enabled_tools=["save_contact_data"])
    generative.script(tool_call("save_contact_data", {"fields": {"email": "joana.exemplo.com"}}),
                      reply("Pode conferir o e-mail?"))
    customer_turn(conversation, "meu email é joana.exemplo.com")
    conversation.contact.refresh_from_db()
    assert conversation.contact.email == ""
    [told] = tool_messages(generative.chat_requests()[1])
    result = json.loads(told["content"])
    assert result["ok"] is False and "email" in result["errors"]


def test_handoff_to_human_ends_the_turn(conversation, generative):
    from apps.inbox.models import Message

    make_assistant(enabled_tools=["handoff_to_human", "business_hours"])
    generative.script(tool_call("handoff_to_human", {"reason": "cliente quer falar com o gerente"}))
    customer_turn(conversation, "Quero falar com o gerente")
    assert len(generative.chat_requests()) == 1  # the model is not asked again
    assert ai_texts(conversation) == ["WAIT"]
    conversation.refresh_from_db()
    assert conversation.bot_state == "waiting_human"
    decision = last_decision(conversation)
    assert (decision.action, decision.reason) == ("handed_off", "tool:cliente quer falar com o gerente")
    event = Message.objects.filter(conversation=conversation, type="event", payload__event="handoff").get()
    assert "cliente quer falar com o gerente" in event.text


def test_business_hours_tool_answers_in_the_assistants_time_zone(conversation, generative):
    zone = zoneinfo.ZoneInfo("Asia/Tokyo")
    local = timezone.now().astimezone(zone)
    make_assistant(enabled_tools=["business_hours"], time_zone="Asia/Tokyo",
                   business_hours={str(local.weekday()): [["00:00", "24:00"]]})
    generative.script(tool_call("business_hours", {}), reply("Estamos abertos!"))
    customer_turn(conversation, "Estão abertos?")
    [told] = tool_messages(generative.chat_requests()[1])
    result = json.loads(told["content"])
    assert result["open_now"] is True and result["time_zone"] == "Asia/Tokyo"
    names = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    assert result["hours"][names[local.weekday()]] == ["00:00-24:00"]
    assert result["hours"][names[(local.weekday() + 1) % 7]] == ["closed"]


def test_is_open_handles_ranges_past_midnight():
    from datetime import datetime

    from apps.agents.builtin_tools import is_open
    from apps.agents.models import Assistant

    bar = Assistant(time_zone="America/Sao_Paulo", business_hours={"4": [["18:00", "02:00"]]})  # Friday night
    zone = zoneinfo.ZoneInfo("America/Sao_Paulo")
    assert is_open(bar, datetime(2025, 6, 6, 23, 0, tzinfo=zone))  # Friday 23:00
    assert is_open(bar, datetime(2025, 6, 7, 1, 30, tzinfo=zone))  # Saturday 01:30
    assert not is_open(bar, datetime(2025, 6, 7, 3, 0, tzinfo=zone))
    assert not is_open(bar, datetime(2025, 6, 6, 17, 59, tzinfo=zone))
    assert is_open(Assistant(business_hours={}), datetime(2025, 6, 8, 4, 0, tzinfo=zone))  # none set: open
