"""Ingestion: embeddings of every size, failures that still leave a searchable document,
progress, the tenant's language, and the atomic swap seen by a concurrent reader."""
from __future__ import annotations

import re
import threading
import uuid

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.knowledge.models import EMBEDDING_DIMENSIONS, Chunk, Document
from apps.knowledge.selectors import search
from apps.knowledge.services import document_create_text, document_ingest
from tests.fakes.openai_server import FakeOpenAI, fake_embedding

from .conftest import use_embeddings


@pytest.fixture
def alpha(tenant):
    with schema_context(tenant.schema_name):
        yield tenant


def long_text(paragraphs: int, marker: str) -> str:
    return "\n\n".join(f"Parágrafo {i} da versão {marker}: queijos, frios, entregas e pagamentos com Pix "
                       f"explicados com calma para o cliente da loja número {i}. " * 3 for i in range(paragraphs))


def test_chunks_get_embeddings_in_batches(alpha, fake_openai):
    use_embeddings(fake_openai)
    document = document_create_text(title="Catálogo", content=long_text(70, "a"))
    document_ingest(document.pk, document.version)
    document.refresh_from_db()
    assert document.status == "ready" and document.error == ""
    chunks = list(Chunk.objects.filter(document=document).order_by("position"))
    assert len(chunks) == document.chunk_count > 64
    requests = fake_openai.embedding_requests()
    assert [len(r["input"]) for r in requests] == [64, len(chunks) - 64]  # batches of 64, not one call per chunk
    first = chunks[0]
    assert len(first.embedding) == EMBEDDING_DIMENSIONS
    expected = fake_embedding(f"Catálogo\n\n{first.text}", EMBEDDING_DIMENSIONS)
    assert max(abs(a - b) for a, b in zip(first.embedding, expected)) < 1e-5


def test_shorter_embeddings_are_zero_padded(alpha):
    with FakeOpenAI(native_dims=768) as fake:
        use_embeddings(fake)
        document = document_create_text(title="Pix", content="A chave Pix é o CNPJ da loja.")
        document_ingest(document.pk, document.version)
        assert "dimensions" not in fake.embedding_requests()[0]
    vector = list(Chunk.objects.get(document=document).embedding)
    expected = fake_embedding("Pix\n\nA chave Pix é o CNPJ da loja.", 768)
    assert len(vector) == EMBEDDING_DIMENSIONS
    assert max(abs(a - b) for a, b in zip(vector[:768], expected)) < 1e-5
    assert not any(vector[768:])


def test_longer_embeddings_are_asked_for_at_the_stored_size(alpha):
    with FakeOpenAI(native_dims=3072) as fake:
        use_embeddings(fake)
        document = document_create_text(title="Pix", content="A chave Pix é o CNPJ da loja.")
        document_ingest(document.pk, document.version)
        requests = fake.embedding_requests()
        assert requests[-1]["dimensions"] == EMBEDDING_DIMENSIONS
        result = search("chave pix")  # the question goes through the same sizing
        assert result.mode == "hybrid" and result.chunks[0].vector_score > 0.3
        assert fake.embedding_requests()[-1]["dimensions"] == EMBEDDING_DIMENSIONS
    assert len(Chunk.objects.get(document=document).embedding) == EMBEDDING_DIMENSIONS


def test_an_embedding_failure_leaves_the_document_ready_and_searchable_by_text(alpha, fake_openai):
    use_embeddings(fake_openai)
    fake_openai.embedding_failures.extend([500, 500, 500])
    document = document_create_text(title="Pagamentos", content="Aceitamos Pix, cartão e vale-alimentação.")
    document_ingest(document.pk, document.version)
    document.refresh_from_db()
    assert document.status == "ready"
    assert document.error.startswith("Searchable by text only: the embedding endpoint failed")
    assert Chunk.objects.get(document=document).embedding is None
    result = search("aceitam vale alimentação?")
    assert result.chunks and result.chunks[0].document_id == document.pk
    assert result.mode == "fts"


def test_a_wrong_key_is_an_embedding_failure_not_a_crash(alpha, fake_openai):
    from apps.agents.models import ModelProvider

    use_embeddings(fake_openai)
    ModelProvider.objects.filter(is_default=True).update(api_key="sk-wrong")
    document = document_create_text(title="Pix", content="Chave Pix: CNPJ.")
    document_ingest(document.pk, document.version)
    document.refresh_from_db()
    assert document.status == "ready"
    assert document.error.startswith("Searchable by text only: the embedding endpoint refused the API key.")
    assert "rong" not in document.error  # not even the tail of the key the provider quotes


def test_progress_is_written_step_by_step(alpha, fake_openai):
    use_embeddings(fake_openai)
    document = document_create_text(title="Catálogo", content=long_text(140, "a"))  # 3 embedding batches
    with CaptureQueriesContext(connection) as queries:
        document_ingest(document.pk, document.version)
    progress = [int(m) for q in queries.captured_queries
                for m in re.findall(r'"progress" = (\d+)', q["sql"]) if q["sql"].startswith("UPDATE")]
    assert progress[0] == 5 and progress[-1] == 100
    assert progress == sorted(progress) and len(set(progress)) >= 5  # moves forward in several steps


def test_search_vectors_use_the_tenant_language(alpha, tenant):
    from tenants.models import Tenant

    Tenant.objects.filter(pk=tenant.pk).update(language="en")
    document = document_create_text(title="Delivery", content="We deliver to the neighbourhoods downtown.")
    document_ingest(document.pk, document.version)
    chunk = Chunk.objects.get(document=document)
    assert chunk.search_config == "english"
    assert search("deliveries to neighbourhood").chunks[0].chunk_id == chunk.pk  # English stemming


def test_chunks_follow_a_change_of_language(alpha, tenant):
    from apps.knowledge.services import chunks_reindex_language
    from tenants.models import Tenant

    document = document_create_text(title="Entregas", content="Entregamos nos bairros do Centro.")
    document_ingest(document.pk, document.version)
    Tenant.objects.filter(pk=tenant.pk).update(language="en")
    assert chunks_reindex_language() == 1
    chunk = Chunk.objects.get(document=document)
    assert chunk.search_config == "english"
    assert search("bairros").chunks[0].chunk_id == chunk.pk
    assert chunks_reindex_language() == 0  # nothing left in another language


# --- the swap, seen from another connection --------------------------------------------------------

@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    """No test transaction (the reader thread must see committed rows); the test cleans up."""
    with django_db_blocker.unblock():
        yield
        connection.set_schema_to_public()


def test_a_concurrent_reader_sees_the_old_set_or_the_new_set_never_half(committed):
    tag = uuid.uuid4().hex[:8]
    with schema_context("alpha"):
        # Made directly: the service would also send the task to the broker on commit.
        document = Document.objects.create(title=f"Swap {tag}", content=long_text(120, "um"))
        document_ingest(document.pk, 1)
        old_count = Chunk.objects.filter(document=document).count()
        Document.objects.filter(pk=document.pk).update(content=long_text(60, "dois"), version=2)
    seen: list[int] = []
    started, stop = threading.Event(), threading.Event()

    def read():
        try:
            with schema_context("alpha"):
                while not stop.is_set():
                    seen.append(Chunk.objects.filter(document_id=document.pk).count())
                    started.set()
        finally:
            connections.close_all()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert started.wait(10)
        with schema_context("alpha"):
            document_ingest(document.pk, 2)
            new_count = Chunk.objects.filter(document=document).count()
            reads_at_swap = len(seen)
            while len(seen) < reads_at_swap + 20:  # keep reading after the swap
                pass
    finally:
        stop.set()
        reader.join(10)
        with schema_context("alpha"):
            Document.objects.filter(pk=document.pk).delete()
    assert old_count != new_count
    assert set(seen) <= {old_count, new_count}, sorted(set(seen))
    assert old_count in seen and new_count in seen
