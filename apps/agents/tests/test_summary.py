"""The inbox's "Summarize conversation": with a model (a fake OpenAI-compatible server on
127.0.0.1 through the real SDK) one call carries the instruction in the system role and the
transcript as user content, the answer is the model's and its tokens are metered; when the call
fails, and in retrieval-only mode, a short labelled extract of the key messages."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone, translation
from django_tenants.utils import schema_context

from apps.inbox.tests.helpers_inbox import add_message, make_contact, make_conversation
from tests.fakes.openai_server import API_KEY, FakeOpenAI, error, reply


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture(scope="module")
def _server():
    with FakeOpenAI() as server:  # one per module: stopping a server takes half a second
        yield server


@pytest.fixture
def fake(_server):
    _server.reset()
    yield _server


def make_provider(fake, **fields):
    from apps.agents.models import ModelProvider

    defaults = {"name": "Fake", "base_url": fake.base_url, "model": "gpt-4o-mini", "api_key": API_KEY,
                "is_default": True, "price_in_per_1k": Decimal("0.15"), "price_out_per_1k": Decimal("0.60")}
    return ModelProvider.objects.create(**{**defaults, **fields})


def say(conversation, *lines):
    """(sender, text) pairs, one minute apart, oldest first."""
    made = []
    for i, (who, text) in enumerate(lines):
        minutes_ago = len(lines) - i
        if who == "customer":
            made.append(add_message(conversation, text, minutes_ago=minutes_ago))
        else:
            made.append(add_message(conversation, text, direction="out", sender_kind=who, minutes_ago=minutes_ago))
    return made


ORDER_CHAT = [
    ("customer", "Oi, boa tarde!"),
    ("ai", "Olá! Como posso ajudar?"),
    ("customer", "Quero encomendar uma tábua de frios para sábado"),
    ("ai", "Claro! Para quantas pessoas?"),
    ("customer", "Umas 8 pessoas"),
    ("ai", "A tábua média serve 8 pessoas e custa R$ 189,90."),
    ("customer", "ok"),
    ("customer", "Vocês entregam na Rua das Palmeiras, 350?"),
    ("ai", "Entregamos sim, a taxa é R$ 5,00."),
    ("customer", "beleza"),
    ("customer", "legal"),
    ("customer", "perfeito"),
    ("human", "Oi! Aqui é a Ana, vou confirmar a encomenda."),
    ("customer", "Obrigado, aguardo"),
]


def test_generative_summary_is_one_call_with_the_transcript_and_is_metered(tenant, fake):
    from apps.agents.models import UsageDaily
    from apps.agents.services.summary import conversation_summarize

    fake.script(reply("- Cliente quer tábua média (8 pessoas) para sábado, R$ 189,90.\n- Entrega na Rua das "
                      "Palmeiras, 350.", prompt_tokens=400, completion_tokens=50))
    with schema_context("alpha"):
        provider = make_provider(fake)
        conversation = make_conversation(contact=make_contact("Maria Souza"))
        say(conversation, *ORDER_CHAT)
        add_message(conversation, "Assigned to Ana", direction="out", sender_kind="system", type="event")

        summary = conversation_summarize(conversation)

        assert summary == ("- Cliente quer tábua média (8 pessoas) para sábado, R$ 189,90.\n- Entrega na Rua das "
                           "Palmeiras, 350.")
        [request] = fake.chat_requests()
        assert request["model"] == provider.model
        system, user = request["messages"]
        assert system["role"] == "system" and "Brazilian Portuguese" in system["content"]  # alpha: pt-br
        assert "Quero encomendar" not in system["content"]  # customer text never in the system role
        assert user["role"] == "user"
        lines = user["content"].splitlines()[1:]
        assert lines == [f"{label}: {text}" for label, text in [
            ("Customer" if who == "customer" else "Assistant" if who == "ai" else "Staff", text)
            for who, text in ORDER_CHAT]]
        assert "Assigned to Ana" not in user["content"]  # system lines are not the conversation
        day = UsageDaily.objects.get()
        assert (day.turns, day.prompt_tokens, day.completion_tokens) == (0, 400, 50)
        assert day.cost == Decimal("0.090000")  # 400 * 0.15/1k + 50 * 0.60/1k


def test_the_transcript_is_the_last_50_messages(tenant, fake):
    from apps.agents.services.summary import conversation_summarize

    with schema_context("alpha"):
        make_provider(fake)
        conversation = make_conversation()
        say(conversation, *[("customer", f"mensagem {i}") for i in range(60)])
        conversation_summarize(conversation)
    content = fake.chat_requests()[0]["messages"][1]["content"]
    assert content.splitlines()[1:] == [f"Customer: mensagem {i}" for i in range(10, 60)]


@pytest.mark.parametrize("failure", [error(500), error(429), error(400)])
def test_a_failing_model_falls_back_to_the_extract(tenant, fake, failure):
    from apps.agents.models import UsageDaily
    from apps.agents.services.summary import conversation_extract, conversation_summarize

    fake.script(failure)
    with schema_context("alpha"):
        make_provider(fake)
        conversation = make_conversation()
        say(conversation, *ORDER_CHAT)
        summary = conversation_summarize(conversation)
        assert summary == conversation_extract(conversation)
        assert "Customer: Quero encomendar uma tábua de frios para sábado" in summary
        assert UsageDaily.objects.count() == 0
    assert len(fake.chat_requests()) == 1  # no retry loop for a summary


def test_a_wrong_key_falls_back_to_the_extract_without_leaking_it(tenant, fake, caplog):
    from apps.agents.services.summary import conversation_extract, conversation_summarize

    with schema_context("alpha"):
        make_provider(fake, api_key="sk-wrong-key-123456789")
        conversation = make_conversation()
        say(conversation, *ORDER_CHAT)
        assert conversation_summarize(conversation) == conversation_extract(conversation)
    assert "sk-wrong-key-123456789" not in caplog.text


def test_retrieval_only_extract_keeps_the_key_messages(tenant, fake):
    from apps.agents.services.summary import EXTRACT_LINES, conversation_summarize

    with schema_context("alpha"):
        conversation = make_conversation()
        say(conversation, *ORDER_CHAT)
        summary = conversation_summarize(conversation)  # no provider: retrieval-only
    assert fake.chat_requests() == []
    lines = summary.splitlines()
    assert len(lines) <= EXTRACT_LINES
    assert lines[0] == "Customer: Quero encomendar uma tábua de frios para sábado"  # the first request
    for expected in ("Customer: Umas 8 pessoas",  # figures
                     "Assistant: A tábua média serve 8 pessoas e custa R$ 189,90.",  # prices
                     "Customer: Vocês entregam na Rua das Palmeiras, 350?",  # addresses, questions
                     "Assistant: Entregamos sim, a taxa é R$ 5,00.",
                     "Staff: Oi! Aqui é a Ana, vou confirmar a encomenda."):  # the last exchange
        assert expected in lines, expected
    assert lines[-1] == "Customer: Obrigado, aguardo"
    for chit_chat in ("Oi, boa tarde!", "ok", "beleza", "legal", "perfeito"):
        assert f"Customer: {chit_chat}" not in lines
    order = [next(i for i, (_, text) in enumerate(ORDER_CHAT) if line.endswith(": " + text)) for line in lines]
    assert order == sorted(order)  # in the order they were said


def test_extract_skips_purged_messages_labels_staff_and_describes_media(tenant, owner):
    from apps.accounts.models import User
    from apps.agents.services.summary import conversation_summarize

    with schema_context("alpha"):
        User.objects.filter(pk=owner.pk).update(name="Ana Lima")
        owner.refresh_from_db()
        conversation = make_conversation()
        gone = add_message(conversation, "", minutes_ago=5)
        gone.purged_at = timezone.now()
        gone.save(update_fields=["purged_at"])
        add_message(conversation, "", type="image", media_name="comprovante.jpg", minutes_ago=3)
        add_message(conversation, "Segue o comprovante do Pix", minutes_ago=2)
        add_message(conversation, "Recebido, obrigada!", direction="out", sender_kind="human", user=owner,
                    minutes_ago=1)
        summary = conversation_summarize(conversation)
    assert summary.splitlines() == ["Customer: [Image: comprovante.jpg]", "Customer: Segue o comprovante do Pix",
                                    "Staff (Ana): Recebido, obrigada!"]


def test_nothing_to_summarize(tenant, fake):
    from apps.agents.services.summary import conversation_summarize

    with schema_context("alpha"):
        make_provider(fake)
        conversation = make_conversation()
        assert conversation_summarize(conversation) == "There are no messages to summarize yet."
    assert fake.chat_requests() == []


def test_a_tenants_provider_serves_only_that_tenant(tenant, other_tenant, fake):
    """Alpha has a model; beta has none: beta's summary is the extract and nothing reaches the model."""
    from apps.agents.models import UsageDaily
    from apps.agents.services.summary import conversation_extract, conversation_summarize

    with schema_context("alpha"):
        make_provider(fake)
    with schema_context("beta"):
        conversation = make_conversation()
        say(conversation, *ORDER_CHAT)
        assert conversation_summarize(conversation) == conversation_extract(conversation)
        assert UsageDaily.objects.count() == 0
    assert fake.chat_requests() == []
