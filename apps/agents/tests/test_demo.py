"""The demo's assistant: seeding twice makes one "Assistente 3A" (the default, retrieval-only, set on
the demo number) and its 3A Frios documents once, ingested right away, so a demo question finds the
right passage with enough confidence to be answered."""
from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from apps.inbox.tests.helpers_inbox import make_connection


@pytest.fixture
def seeded(tenant):
    from apps.agents.demo import seed_demo_assistant

    with schema_context("alpha"):
        make_connection(name="Simulador")
        seed_demo_assistant(tenant)
        seed_demo_assistant(tenant)  # idempotent
    return tenant


def test_seeding_twice_makes_one_assistant_and_the_documents_once(seeded):
    from apps.agents import selectors
    from apps.agents.demo import ASSISTANT_NAME, DOCUMENTS
    from apps.agents.models import Assistant
    from apps.knowledge.models import Chunk, Document
    from apps.whatsapp.models import Connection

    with schema_context("alpha"):
        [assistant] = Assistant.objects.all()
        assert (assistant.name, assistant.purpose, assistant.tone, assistant.is_default, assistant.is_active) == (
            ASSISTANT_NAME, "orders", "casual", True, True)
        assert "3A Frios" in assistant.master_prompt and "nunca invente" in assistant.master_prompt
        assert assistant.provider_id is None and not selectors.is_generative(assistant)  # retrieval-only
        titles = sorted(Document.objects.values_list("title", flat=True))
        assert titles == sorted(title for title, _, _ in DOCUMENTS)
        assert set(Document.objects.values_list("status", flat=True)) == {"ready"}
        assert Chunk.objects.count() == sum(Document.objects.values_list("chunk_count", flat=True)) > 0
        assert list(Connection.objects.values_list("default_assistant", flat=True)) == [assistant.pk]


def test_the_staffs_edits_survive_a_second_seed(seeded):
    from apps.agents.demo import ASSISTANT_NAME, seed_demo_assistant
    from apps.agents.models import Assistant

    with schema_context("alpha"):
        Assistant.objects.filter(name=ASSISTANT_NAME).update(master_prompt="Meu prompt", confidence_threshold=0.6)
        seed_demo_assistant(seeded)
        assistant = Assistant.objects.get()
        assert (assistant.master_prompt, assistant.confidence_threshold) == ("Meu prompt", 0.6)


@pytest.mark.parametrize("question, title", [
    ("vocês entregam no centro?", "Áreas e taxas de entrega"),
    ("qual a chave pix?", "Formas de pagamento"),
    ("abre sábado?", "Horário de funcionamento"),
    ("tem mortadela com pistache?", "Produtos e cortes"),
    ("chegou estragado, como faço a troca?", "Trocas e devoluções"),
])
def test_a_demo_question_finds_its_document_with_confidence(seeded, question, title):
    from apps.agents.models import Assistant
    from apps.knowledge.selectors import search

    with schema_context("alpha"):
        assistant = Assistant.objects.get()
        result = search(question)
        assert result.chunks, question
        assert result.chunks[0].title == title
        assert result.confidence >= assistant.confidence_threshold


def test_an_off_topic_question_stays_below_the_threshold(seeded):
    from apps.agents.models import Assistant
    from apps.knowledge.selectors import search

    with schema_context("alpha"):
        threshold = Assistant.objects.get().confidence_threshold
        assert search("qual o placar do jogo de futebol ontem?").confidence < threshold


def test_the_demo_stays_in_its_tenant(seeded, other_tenant):
    from apps.agents.models import Assistant
    from apps.knowledge.models import Document
    from apps.knowledge.selectors import search

    with schema_context("beta"):
        assert Assistant.objects.count() == 0 and Document.objects.count() == 0
        assert search("vocês entregam no centro?").chunks == []
