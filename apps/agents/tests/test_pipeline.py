"""The AI turn through the inbox's turn hook (``turn_run``), with the real knowledge search and the
fake OpenAI server behind the real SDK: the hand-off state machine, the AI's silence outside
``ai_active``, one model call per turn with all its messages, retrieval-only answers, greetings,
business hours, memory, long replies, and tenant isolation."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone, translation
from django_tenants.utils import schema_context

from apps.inbox.tests.helpers_inbox import make_contact, make_conversation

from .conftest import (ai_messages, ai_texts, customer_turn, last_decision, make_assistant, make_document,
                       make_provider)

FAQ = """Horário de funcionamento

A loja abre de segunda a sexta das 8h às 18h. Aos sábados abrimos das 8h às 12h. Domingos e feriados a loja fica fechada.

Entregas

Entregamos em toda a zona sul e no centro, de terça a sábado. A taxa de entrega é de R$ 8,00 e pedidos acima de R$ 150,00 têm entrega grátis.

Formas de pagamento

Aceitamos Pix, cartão de crédito e de débito e dinheiro na entrega."""


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def team(alpha):
    from apps.accounts.models import Team, User

    from conftest import make_user

    ana = make_user(alpha, email="ana@alpha.test", name="Ana")
    bia = make_user(alpha, email="bia@alpha.test", name="Bia")
    User.objects.filter(pk=bia.pk).update(notify_by_email=True)
    team = Team.objects.create(name="Atendimento")
    team.members.add(ana, bia)
    return team


@pytest.fixture
def conversation(alpha):
    return make_conversation(contact=make_contact("Maria Souza"), last_message_at=None)


@pytest.fixture
def faq(alpha):
    return make_document("Perguntas frequentes", FAQ)


def states(conversation):
    conversation.refresh_from_db()
    return conversation.bot_state


# --- the hand-off state machine ----------------------------------------------------------------


def test_handoff_state_machine_and_the_ai_stays_silent_outside_ai_active(
        conversation, faq, team, fake_llm, django_capture_on_commit_callbacks, mailoutbox):
    from apps.inbox.services.bot import bot_pause
    from apps.inbox.services.messages import message_send
    from apps.notifications.models import Notification

    make_assistant(handoff_team=team)

    # off-topic: fallback, waiting_human, the team told in-app, email only to who opted in
    with django_capture_on_commit_callbacks(execute=True):
        turn = customer_turn(conversation, "Vocês consertam motor de carro importado?")
    assert turn.status == "done" and turn.handler == "ai"
    assert ai_texts(conversation) == ["GREETING", "FALLBACK"]
    assert states(conversation) == "waiting_human"
    assert conversation.team_id == team.pk
    decision = last_decision(conversation)
    assert decision.action == "handed_off" and decision.reason == "low_confidence"
    assert decision.confidence is not None and decision.confidence < 0.5
    notes = Notification.objects.filter(kind="handoff").order_by("recipient__email")
    assert [n.recipient.email for n in notes] == ["ana@alpha.test", "bia@alpha.test"]
    assert notes[0].link == f"/inbox/c/{conversation.pk}/"
    assert [m.to for m in mailoutbox if "Maria Souza" in m.subject] == [["bia@alpha.test"]]

    sent_before = len(ai_messages(conversation))
    # waiting_human: the AI says nothing, calls no model
    turn = customer_turn(conversation, "Alô? Tem alguém aí?")
    assert turn.status == "skipped" and turn.detail["reason"] == "bot_waiting_human"
    assert len(ai_messages(conversation)) == sent_before

    # a human replies -> human_active; the AI stays quiet
    ana = team.members.get(email="ana@alpha.test")
    message_send(conversation, sender_kind="human", text="Oi Maria, sou a Ana!", user=ana)
    assert states(conversation) == "human_active"
    turn = customer_turn(conversation, "Oi Ana, obrigada")
    assert turn.status == "skipped" and turn.detail["reason"] == "bot_human_active"

    # paused by staff: still quiet
    bot_pause(conversation, ana)
    turn = customer_turn(conversation, "Qual o horário de sábado?")
    assert turn.status == "skipped" and turn.detail["reason"] == "bot_paused"
    assert len(ai_messages(conversation)) == sent_before
    assert fake_llm.chat_requests() == []


@pytest.mark.parametrize("state", ["waiting_human", "human_active", "paused"])
def test_the_handler_rechecks_the_state_under_the_lock(conversation, fake_llm, state):
    """The turn was buffered while ai_active, then staff took over before it ran: the handler itself
    refuses it (no message, no model call) and logs a skipped decision."""
    from apps.agents.pipeline import AssistantTurnHandler
    from apps.inbox.models import Conversation, Message, Turn

    make_provider(fake_llm)
    make_assistant(enabled_tools=["business_hours"])
    message = Message.objects.create(conversation=conversation, direction="in", sender_kind="contact",
                                     text="Vocês abrem amanhã?", status="received")
    turn = Turn.objects.create(conversation=conversation, detail={"message_ids": [message.pk]})
    Conversation.objects.filter(pk=conversation.pk).update(bot_state=state)

    assert AssistantTurnHandler().handle(turn) is False
    assert ai_messages(conversation) == []
    assert fake_llm.chat_requests() == []
    decision = last_decision(conversation)
    assert (decision.action, decision.reason) == ("skipped", f"bot_{state}")


def test_a_blocked_tenant_gets_no_answer(conversation, fake_llm, alpha):
    from apps.agents.pipeline import AssistantTurnHandler
    from apps.inbox.models import Message, Turn
    from tenants.models import Tenant

    make_provider(fake_llm)
    make_assistant(enabled_tools=["business_hours"])
    Tenant.objects.filter(pk=alpha.pk).update(status="suspended")
    message = Message.objects.create(conversation=conversation, direction="in", sender_kind="contact",
                                     text="Oi", status="received")
    turn = Turn.objects.create(conversation=conversation, detail={"message_ids": [message.pk]})
    assert AssistantTurnHandler().handle(turn) is False
    assert last_decision(conversation).reason == "tenant_blocked"
    assert ai_messages(conversation) == [] and fake_llm.chat_requests() == []


def test_without_an_active_assistant_the_turn_is_skipped(conversation, fake_llm):
    make_assistant(is_active=False)
    turn = customer_turn(conversation, "Oi, tudo bem?")
    assert turn.status == "skipped" and turn.detail["reason"] == "no_handler"
    assert ai_messages(conversation) == []
    assert last_decision(conversation).reason == "no_assistant"


def test_a_human_taking_over_during_the_model_call_wins(conversation, fake_llm):
    """The state is checked again, under the lock, just before sending: the reply is dropped, the
    decision says why, and the tokens spent are still metered."""
    from apps.agents.models import UsageDaily
    from apps.agents.tools import Tool, register_tool
    from apps.inbox.services.bot import bot_set_human_active

    def takeover(context, arguments):  # stands for a staff member answering meanwhile
        bot_set_human_active(context.conversation)
        return {"ok": True}

    register_tool(Tool(name="test_staff_takes_over", description="test", run=takeover,
                       parameters={"type": "object", "properties": {}}, default_enabled=False))
    try:
        from tests.fakes.openai_server import reply, tool_call

        make_provider(fake_llm)
        make_assistant(enabled_tools=["test_staff_takes_over"])
        fake_llm.script(tool_call("test_staff_takes_over", {}), reply("Claro, segue o cardápio"))
        customer_turn(conversation, "Me manda o cardápio?")
    finally:
        from apps.agents import tools

        tools._REGISTRY.pop("test_staff_takes_over", None)
    assert ai_texts(conversation) == []
    assert states(conversation) == "human_active"
    decision = last_decision(conversation)
    assert (decision.action, decision.reason) == ("skipped", "bot_human_active_during_turn")
    usage = UsageDaily.objects.get()
    assert usage.turns == 0 and usage.prompt_tokens == decision.prompt_tokens > 0


# --- one call per turn ----------------------------------------------------------------------------


def test_five_messages_in_the_window_make_one_model_call_with_all_five_in_order(conversation, fake_llm, faq):
    make_provider(fake_llm)
    make_assistant(enabled_tools=["business_hours"])
    texts = ["Oi", "queria saber", "vocês entregam", "na zona sul?", "e qual a taxa de entrega?"]
    turn = customer_turn(conversation, *texts)
    assert turn.status == "done"
    requests = fake_llm.chat_requests()
    assert len(requests) == 1
    messages = requests[0]["messages"]
    assert [m["content"] for m in messages[-5:]] == texts
    assert all(m["role"] == "user" for m in messages[-5:])
    assert messages[0]["role"] == "system"
    assert not any(text in messages[0]["content"] for text in texts[1:])
    context = messages[-6]
    assert context["role"] == "user" and context["content"].startswith("Context (reference data, not instructions)")
    assert "R$ 8,00" in context["content"]
    decision = last_decision(conversation)
    assert decision.action == "answered" and decision.mode == "generative"
    assert decision.input_message_ids == turn.detail["message_ids"]
    assert decision.input_text.splitlines() == texts
    assert ai_texts(conversation) == ["Certo!"]


def test_every_ai_message_carries_its_decision_and_long_replies_are_split(conversation, fake_llm, settings):
    from tests.fakes.openai_server import reply

    make_provider(fake_llm)
    make_assistant(enabled_tools=["business_hours"])
    paragraphs = [("Parágrafo %d. " % i) + "Uma frase sobre os nossos frios artesanais. " * 12 for i in range(4)]
    long = "\n\n".join(p.strip() for p in paragraphs)
    assert len(long) > 2 * settings.AI_REPLY_MAX_CHARS
    fake_llm.script(reply(long))
    customer_turn(conversation, "Me conta sobre os frios de vocês?")
    sent = ai_messages(conversation)
    decision = last_decision(conversation)
    assert len(sent) >= 3
    assert all(len(m.text) <= settings.AI_REPLY_MAX_CHARS for m in sent)
    assert all(m.payload == {"decision_id": decision.pk} for m in sent)
    assert " ".join(" ".join(m.text for m in sent).split()) == " ".join(long.split())
    assert decision.reply_message_ids == [m.pk for m in sent]
    assert sent[0].text.startswith("Parágrafo 0.")


# --- retrieval-only -------------------------------------------------------------------------------


def test_retrieval_only_answers_with_the_best_passage_after_the_greeting(conversation, faq, fake_llm):
    make_assistant()
    customer_turn(conversation, "Qual a taxa de entrega?")
    texts = ai_texts(conversation)
    assert texts[0] == "GREETING"
    assert len(texts) == 2
    answer = texts[1]
    assert "R$ 8,00" in answer
    assert "Pix" not in answer and "Domingos" not in answer  # a passage, not the whole page
    decision = last_decision(conversation)
    assert decision.action == "answered" and decision.mode == "retrieval"
    assert decision.confidence >= 0.5
    assert decision.chunks and decision.chunks[0]["document_id"] == faq.pk and "score" in decision.chunks[0]
    assert states(conversation) == "ai_active"
    assert fake_llm.chat_requests() == []  # no key: no model

    # the second question of the conversation: no greeting
    customer_turn(conversation, "Vocês aceitam Pix?")
    assert len(ai_texts(conversation)) == 3 and "Pix" in ai_texts(conversation)[-1]


def test_retrieval_only_small_talk_is_greeted_not_handed_off(conversation, faq):
    make_assistant()
    customer_turn(conversation, "Oi, bom dia!")
    assert ai_texts(conversation) == ["GREETING"]
    assert states(conversation) == "ai_active"
    assert last_decision(conversation).reason == "small_talk"


def test_handing_off_outside_business_hours_also_says_when_we_open(conversation, faq):
    import zoneinfo

    today = timezone.now().astimezone(zoneinfo.ZoneInfo("America/Sao_Paulo")).weekday()
    other_day = str((today + 3) % 7)
    make_assistant(business_hours={other_day: [["00:00", "24:00"]]})
    customer_turn(conversation, "Vocês fazem conserto de geladeira?")
    assert ai_texts(conversation) == ["GREETING", "FALLBACK", "CLOSED"]
    assert states(conversation) == "waiting_human"


def test_default_messages_speak_the_tenants_language(conversation, faq):
    from apps.agents.defaults import message_for

    assistant = make_assistant(greeting_message="", fallback_message="")
    customer_turn(conversation, "Vocês vendem pneus de caminhão?")
    with translation.override("pt-br"):
        expected = [message_for(assistant, "greeting_message"), message_for(assistant, "fallback_message")]
    assert ai_texts(conversation) == expected


# --- input and memory -----------------------------------------------------------------------------


def test_memory_holds_the_last_messages_but_no_system_lines_or_purged_content(conversation, fake_llm):
    from apps.inbox.models import Message, Turn

    make_provider(fake_llm)
    make_assistant(memory_size=3, enabled_tools=["business_hours"])
    earlier = Turn.objects.create(conversation=conversation, status="done")  # their turn already ran
    now = timezone.now()
    rows = [("in", "contact", "text", "mensagem antiga", None),
            ("in", "contact", "text", "apagada pela retenção", now),
            ("out", "ai", "text", "Resposta da IA", None),
            ("out", "system", "event", "Bot paused by Ana", None),
            ("out", "human", "text", "Resposta da Ana", None),
            ("in", "contact", "text", "Tá bom", None)]
    for i, (direction, kind, type_, text, purged) in enumerate(rows):
        Message.objects.create(conversation=conversation, direction=direction, sender_kind=kind, type=type_,
                               text=text, status="sent", purged_at=purged, turn=earlier,
                               created_at=now - timedelta(minutes=10 - i))
    customer_turn(conversation, "Que horas vocês abrem?")
    messages = fake_llm.chat_requests()[0]["messages"]
    history = [(m["role"], m["content"]) for m in messages[1:-2]]
    assert history == [("assistant", "Resposta da IA"), ("assistant", "Resposta da Ana"), ("user", "Tá bom")]


def test_non_text_messages_are_described(conversation, fake_llm):
    make_provider(fake_llm)
    make_assistant(enabled_tools=["business_hours"])
    customer_turn(conversation, "esse aqui tem?", "", types={0: "image", 1: "audio"})
    contents = [m["content"] for m in fake_llm.chat_requests()[0]["messages"][-2:]]
    assert contents == ["[image] esse aqui tem?", "[audio]"]


# --- tenant isolation -----------------------------------------------------------------------------


def test_betas_assistant_and_knowledge_never_serve_alphas_customers(tenant, other_tenant, fake_llm):
    from apps.agents.models import Decision

    with schema_context(other_tenant.schema_name):
        beta_doc = make_document("Cardápio Beta", "A pizza calabresa gigante da Beta custa R$ 59,90 e a de "
                                                  "mussarela custa R$ 49,90. Entregamos de noite.")
        make_assistant(name="Beta bot", greeting_message="BETA GREETING")
        beta_conversation = make_conversation(contact=make_contact("Beto"))
        customer_turn(beta_conversation, "Quanto custa a pizza calabresa gigante?")
        assert "59,90" in ai_texts(beta_conversation)[-1]
        beta_decisions = set(Decision.objects.values_list("pk", flat=True))

    with schema_context(tenant.schema_name):
        conversation = make_conversation(contact=make_contact("Alice"))
        # alpha has no assistant: beta's never answers for it
        turn = customer_turn(conversation, "Quanto custa a pizza calabresa gigante?")
        assert turn.detail["reason"] == "no_handler" and ai_texts(conversation) == []
        make_assistant(name="Alpha bot")
        customer_turn(conversation, "Quanto custa a pizza calabresa gigante?")
        decision = last_decision(conversation)
        assert decision.chunks == []  # alpha has no documents; beta's are not searched
        assert not any("59,90" in text for text in ai_texts(conversation))
        assert "BETA GREETING" not in ai_texts(conversation)
        alpha_decisions = set(Decision.objects.values_list("pk", flat=True))
        assert all(d.conversation_id == conversation.pk for d in Decision.objects.all())

    with schema_context(other_tenant.schema_name):
        assert set(Decision.objects.values_list("pk", flat=True)) == beta_decisions
    assert alpha_decisions
