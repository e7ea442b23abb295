"""Fixtures and helpers for the assistant tests (shared by every test module under apps/agents).

- ``fake_llm``: the fake OpenAI-compatible server (tests/fakes/openai_server.py) on 127.0.0.1,
  started once per run and reset for each test; the real ``openai`` SDK talks to it.
- ``alpha``: tenant alpha's schema is active for the test.
- ``make_provider(fake, **fields)``: a ModelProvider pointing at the fake (the tenant default).
- ``make_assistant(**fields)``: an active default Assistant (retrieval-only unless a provider with
  a key exists).
- ``make_document(title, content)``: a ready knowledge document with its chunks, through the
  knowledge services (the real ingestion, full-text only).
- ``customer_turn(conversation, *texts)``: the customer's messages arrive and the turn runs through
  the inbox (``apps.inbox.services.turns.turn_run``), as the worker runs it when the window closes.
- ``ai_messages(conversation)``: what the assistant sent, in order.
"""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from tests.fakes.openai_server import API_KEY, MODEL, FakeOpenAI


@pytest.fixture(scope="session")
def _fake_llm_server():
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def fake_llm(_fake_llm_server):
    server = _fake_llm_server
    server.reset()
    server.api_key, server.default_reply = API_KEY, "Certo!"
    yield server
    server.reset()


@pytest.fixture
def alpha(tenant):
    with schema_context(tenant.schema_name):
        yield tenant


def make_provider(fake=None, **fields):
    """The tenant's default provider; with ``fake`` it points at the fake server with its key."""
    from apps.agents.models import ModelProvider

    values = {"name": "Fake OpenAI", "model": MODEL, "is_default": True, "timeout_seconds": 5,
              "price_in_per_1k": Decimal("0.150000"), "price_out_per_1k": Decimal("0.600000")}
    if fake is not None:
        values.update(base_url=fake.base_url, api_key=API_KEY)
    values.update(fields)
    return ModelProvider.objects.create(**values)


def make_assistant(*, documents=(), **fields):
    """An active default assistant; explicit messages so tests need not care about translations."""
    from apps.agents.models import Assistant

    values = {"name": "Ana", "is_default": True, "greeting_message": "GREETING",
              "fallback_message": "FALLBACK", "wait_message": "WAIT", "return_message": "BACK",
              "outside_hours_message": "CLOSED", "business_hours": {}, "enabled_tools": [],
              "typing_presence": False}
    values.update(fields)
    assistant = Assistant.objects.create(**values)
    if documents:
        assistant.documents.set(documents)
    return assistant


def make_document(title: str, content: str, *, category: str = ""):
    """A ready document, ingested synchronously by the knowledge services (full-text search only:
    the providers made here have no embedding model)."""
    from apps.knowledge import services
    from apps.knowledge.models import Document

    document = services.document_create_text(title=title, content=content, category=category)
    services.document_ingest(document.pk, document.version)
    document = Document.objects.get(pk=document.pk)
    assert document.status == "ready", document.error
    return document


def customer_turn(conversation, *texts, types=None):
    """``texts`` arrive from the customer (in this order) and the conversation's turn runs now."""
    from apps.inbox.models import Conversation, Message
    from apps.inbox.services.turns import turn_run

    now = timezone.now()
    for i, text in enumerate(texts):
        Message.objects.create(conversation=conversation, direction="in", sender_kind="contact", text=text,
                               type=(types or {}).get(i, "text"), status="received",
                               created_at=now + timedelta(microseconds=i))
    Conversation.objects.filter(pk=conversation.pk).update(turn_due_at=now - timedelta(seconds=1),
                                                           last_inbound_at=now)
    turn = turn_run(conversation.pk)
    conversation.refresh_from_db()
    return turn


def ai_messages(conversation) -> list:
    from apps.inbox.models import Message

    return list(Message.objects.filter(conversation=conversation, sender_kind="ai").order_by("created_at", "id"))


def ai_texts(conversation) -> list[str]:
    return [m.text for m in ai_messages(conversation)]


def last_decision(conversation):
    from apps.agents.models import Decision

    return Decision.objects.filter(conversation=conversation).order_by("-id").first()
