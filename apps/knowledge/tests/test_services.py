"""Creating, validating, updating and deleting documents; ingestion of every source."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation
from django_tenants.utils import schema_context

from apps.knowledge.models import Chunk, Document
from apps.knowledge.services import (document_create_file, document_create_text, document_create_url,
                                     document_delete, document_ingest, document_reingest, document_sweep,
                                     document_update)

from .files import make_docx, make_exe, make_pdf, make_png, make_zip


@pytest.fixture
def alpha(tenant):
    with schema_context(tenant.schema_name):
        yield tenant


@pytest.fixture
def plan_without_raise(tenant):
    """Alpha on a plan that does not raise the 50,000-character default (the trial plan does)."""
    from apps.billing.models import Plan
    from tenants.models import Tenant

    plan = Plan.objects.create(name="Basic", slug="basic-kcore", knowledge_chars_per_document=None)
    Tenant.objects.filter(pk=tenant.pk).update(plan=plan)
    return plan


def media_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --- typed text ----------------------------------------------------------------------------------

def test_text_document_is_created_pending_and_ingests_to_ready(alpha, owner):
    document = document_create_text(title="  Horários ", content="Abrimos às 8h.\r\nFechamos às 19h.",
                                    category="Atendimento", user=owner)
    assert (document.title, document.status, document.version, document.created_by) == (
        "Horários", "pending", 1, owner)
    assert document.char_count == len("Abrimos às 8h.\nFechamos às 19h.")  # CRLF counts once
    document_ingest(document.pk, document.version)
    document.refresh_from_db()
    assert (document.status, document.progress, document.chunk_count, document.error) == ("ready", 100, 1, "")
    assert document.ingested_at is not None
    chunk = Chunk.objects.get(document=document)
    assert chunk.text == "Abrimos às 8h.\nFechamos às 19h."
    assert chunk.search_config == "portuguese"
    assert chunk.embedding is None  # no embedding endpoint configured


def test_the_50000_character_limit_is_enforced_with_a_clear_message(alpha, plan_without_raise):
    with pytest.raises(ValidationError) as info:
        document_create_text(title="Longo", content="a" * 50_312)
    assert info.value.messages == ["This document has 50,312 characters; the limit is 50,000."]
    assert info.value.code == "too_long"
    assert not Document.objects.exists()
    document_create_text(title="No limite", content="a" * 50_000)  # exactly the limit is fine
    with translation.override("pt-br"), pytest.raises(ValidationError) as info:
        document_create_text(title="Longo", content="a" * 50_001)
    assert "50.001" in info.value.messages[0] and "50.000" in info.value.messages[0]  # numbers localised


def test_the_plan_raises_the_limit(alpha):
    # alpha is on the trial plan: 200,000 characters per document
    document = document_create_text(title="Catálogo", content="queijo " * 10_000)  # 70,000 characters
    assert document.char_count == 70_000
    with pytest.raises(ValidationError, match="the limit is 200,000"):
        document_create_text(title="Enorme", content="a" * 200_001)


def test_title_and_content_are_required(alpha):
    with pytest.raises(ValidationError, match="Enter a title"):
        document_create_text(title="  ", content="texto")
    with pytest.raises(ValidationError, match="empty"):
        document_create_text(title="Vazio", content=" \n ")
    assert not Document.objects.exists()


def test_services_enqueue_the_ingestion_after_commit(alpha, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        document_create_text(title="A", content="texto")
    assert len(callbacks) == 1


# --- files ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, data, message", [
    ("catalogo.pdf", make_exe(), "a Windows program"),
    ("foto.pdf", make_png(), "an image (PNG)"),
    ("documentos.zip", make_zip({"a.txt": b"oi"}), "a ZIP archive"),
    ("documentos.docx", make_zip({"a.txt": b"oi"}), "a ZIP archive"),
], ids=["exe-renamed-pdf", "png-renamed-pdf", "zip", "zip-renamed-docx"])
def test_bad_file_types_are_refused_and_nothing_is_stored(alpha, settings, name, data, message):
    with pytest.raises(ValidationError) as info:
        document_create_file(upload=SimpleUploadedFile(name, data, content_type="application/pdf"))
    assert info.value.code == "file_type"
    assert message in info.value.messages[0]
    assert not Document.objects.exists()
    assert media_files(settings) == []


def test_files_over_the_size_limit_are_refused(alpha, settings):
    settings.KNOWLEDGE_MAX_UPLOAD_BYTES = 1000
    with pytest.raises(ValidationError) as info:
        document_create_file(upload=SimpleUploadedFile("a.txt", b"a" * 1001))
    assert info.value.code == "file_too_large"
    assert "the limit is 1000" in info.value.messages[0]
    assert not Document.objects.exists()


def test_a_real_pdf_is_stored_and_its_text_extracted_by_the_ingestion(alpha, settings):
    data = make_pdf(["Política de entregas", "Entregamos no bairro Jardim América em até 60 minutos."])
    document = document_create_file(upload=SimpleUploadedFile("entregas.txt", data), category="Entregas")
    assert (document.title, document.file_mime, document.content) == ("entregas", "application/pdf", "")
    assert document.file.name.endswith(".pdf")  # the stored name follows the sniffed type, not the upload's
    assert len(media_files(settings)) == 1
    document_ingest(document.pk, document.version)
    document.refresh_from_db()
    assert document.status == "ready", document.error
    assert "Entregamos no bairro Jardim América em até 60 minutos." in document.content
    assert document.char_count == len(document.content)
    assert "Jardim América" in Chunk.objects.get(document=document).text


def test_an_unusable_file_name_still_stores_the_file(alpha):
    document = document_create_file(upload=SimpleUploadedFile("???.txt", "Pão fresco.".encode()))
    assert document.file.name.endswith("/document.txt")
    assert document.title == "???"


def test_a_real_docx_is_read_at_upload(alpha):
    data = make_docx(["Trocas", "Trocamos produtos com defeito em até 7 dias."], table=[["Item", "Prazo"],
                                                                                       ["Frios", "1 dia"]])
    document = document_create_file(upload=SimpleUploadedFile("Politica_de_trocas.docx", data), title="")
    assert document.title == "Politica de trocas"
    assert "Trocamos produtos com defeito em até 7 dias." in document.content
    assert "Frios | 1 dia" in document.content
    document_ingest(document.pk, document.version)
    document.refresh_from_db()
    assert document.status == "ready"


def test_text_files_over_the_character_limit_are_refused_at_upload(alpha, plan_without_raise):
    with pytest.raises(ValidationError, match="This document has 60,000 characters; the limit is 50,000."):
        document_create_file(upload=SimpleUploadedFile("grande.txt", b"a" * 60_000))
    assert not Document.objects.exists()


def test_an_unreadable_pdf_fails_with_a_reason(alpha):
    document = document_create_file(upload=SimpleUploadedFile("quebrado.pdf", b"%PDF-1.7\n" + b"garbage " * 100))
    document_ingest(document.pk, document.version)  # must not raise
    document.refresh_from_db()
    assert document.status == "failed"
    assert document.error == "The PDF could not be read (it may be damaged)."
    assert not Chunk.objects.filter(document=document).exists()


def test_a_pdf_whose_text_is_over_the_limit_fails_with_a_reason(alpha, settings, plan_without_raise):
    settings.KNOWLEDGE_MAX_DOCUMENT_CHARS = 100
    document = document_create_file(upload=SimpleUploadedFile("longo.pdf", make_pdf(["palavra " * 60])))
    document_ingest(document.pk, document.version)
    document.refresh_from_db()
    assert document.status == "failed"
    assert document.error.startswith("This document has ") and document.error.endswith("the limit is 100.")


def test_a_missing_file_fails_with_a_reason(alpha):
    document = document_create_file(upload=SimpleUploadedFile("a.pdf", make_pdf(["Texto do PDF."])))
    document.file.delete(save=False)
    document_ingest(document.pk, document.version)
    document.refresh_from_db()
    assert (document.status, document.error) == ("failed", "The uploaded file is missing; upload it again.")


# --- URLs ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/faq", "http://localhost/faq", "http://10.0.0.5/intranet",
    "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "ftp://example.com/faq.txt",
])
def test_private_and_local_urls_are_refused_at_create_time(alpha, settings, url):
    settings.KNOWLEDGE_URL_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError) as info:
        document_create_url(url=url)
    assert info.value.code == "url_refused"
    assert not Document.objects.exists()


def test_a_page_is_imported_from_a_local_server_when_private_addresses_are_allowed(alpha, settings, site):
    settings.KNOWLEDGE_URL_ALLOW_PRIVATE = True
    document = document_create_url(url=f"{site.base}/page", category="Site")
    assert (document.source, document.status, document.content) == ("url", "pending", "")
    document_ingest(document.pk, document.version, extract=True)
    document.refresh_from_db()
    assert document.status == "ready", document.error
    assert document.title == "Entregas | Bom Sabor"  # no title given: the page's
    assert "Entregamos em Jardim América e Vila Nova." in document.content
    assert "Menu" not in document.content


def test_the_address_is_checked_again_at_fetch_time(alpha, settings, site):
    settings.KNOWLEDGE_URL_ALLOW_PRIVATE = True
    document = document_create_url(url=f"{site.base}/page", title="Entregas")
    settings.KNOWLEDGE_URL_ALLOW_PRIVATE = False  # e.g. the name now resolves somewhere private
    document_ingest(document.pk, document.version, extract=True)
    document.refresh_from_db()
    assert document.status == "failed"
    assert "private or local network" in document.error
    assert site.requests == []  # never connected


def test_fetch_errors_fail_the_document_with_the_reason(alpha, settings, site):
    settings.KNOWLEDGE_URL_ALLOW_PRIVATE = True
    document = document_create_url(url=f"{site.base}/missing", title="Sumiu")
    document_ingest(document.pk, document.version, extract=True)
    document.refresh_from_db()
    assert (document.status, document.error) == ("failed", "The page answered with an error (HTTP 404).")
    assert document.title == "Sumiu"


# --- updates, versions, deletion -----------------------------------------------------------------

def test_a_stale_ingestion_does_nothing_and_the_newest_version_wins(alpha):
    document = document_create_text(title="Horários", content="Abrimos às 8h.")
    document_ingest(document.pk, 1)
    document = document_update(document, title="Horários", content="Abrimos às 9h.")
    assert (document.version, document.status) == (2, "pending")
    document_ingest(document.pk, 1)  # the task of the old version, late
    assert list(Chunk.objects.filter(document=document).values_list("text", flat=True)) == ["Abrimos às 8h."]
    document.refresh_from_db()
    assert document.status == "pending"  # untouched by the stale run
    document_ingest(document.pk, 2)
    assert list(Chunk.objects.filter(document=document).values_list("text", flat=True)) == ["Abrimos às 9h."]


def test_update_reingests_on_new_content_or_title_but_not_on_category(alpha):
    document = document_create_text(title="A", content="Texto.")
    document = document_update(document, title="A", category="Nova", content="Texto.")
    assert (document.version, document.category) == (1, "Nova")
    document = document_update(document, title="B", category="Nova")
    assert document.version == 2  # the title is part of the search vectors
    with pytest.raises(ValidationError, match="characters; the limit is"):
        document_update(document, title="B", content="a" * 300_000)
    document.refresh_from_db()
    assert (document.version, document.content) == (2, "Texto.")


def test_edited_text_of_an_imported_document_is_kept_over_the_source(alpha, settings, site):
    settings.KNOWLEDGE_URL_ALLOW_PRIVATE = True
    document = document_create_url(url=f"{site.base}/page")
    document_ingest(document.pk, document.version, extract=True)
    document = document_update(document, title="Entregas", content="Entregamos só no Centro.")
    document_ingest(document.pk, document.version, extract=False)
    document.refresh_from_db()
    assert document.content == "Entregamos só no Centro."
    assert [c.text for c in Chunk.objects.filter(document=document)] == ["Entregamos só no Centro."]
    document = document_reingest(document)  # from the source again
    document_ingest(document.pk, document.version, extract=True)
    document.refresh_from_db()
    assert "Jardim América" in document.content


def test_delete_removes_chunks_and_the_file(alpha, settings, django_capture_on_commit_callbacks):
    document = document_create_file(upload=SimpleUploadedFile("a.txt", "Pão fresco às 7h30.".encode()))
    document_ingest(document.pk, document.version)
    assert Chunk.objects.filter(document=document).count() == 1 and len(media_files(settings)) == 1
    with django_capture_on_commit_callbacks(execute=True):
        document_delete(document)
    assert not Document.objects.filter(pk=document.pk).exists()
    assert not Chunk.objects.filter(document_id=document.pk).exists()
    assert media_files(settings) == []


def test_ingesting_a_deleted_document_is_a_no_op(alpha):
    document = document_create_text(title="A", content="Texto.")
    document_delete(document)
    document_ingest(document.pk, 1)  # no exception


def test_sweep_resends_stuck_documents_once_and_only_in_its_own_tenant(tenant, other_tenant,
                                                                        django_capture_on_commit_callbacks):
    old = timezone.now() - timedelta(minutes=5)
    with schema_context(other_tenant.schema_name):
        theirs = document_create_text(title="Beta", content="Pizza.")
        Document.objects.filter(pk=theirs.pk).update(updated_at=old)
    with schema_context(tenant.schema_name):
        stuck = document_create_text(title="Parado", content="Texto.")
        fresh = document_create_text(title="Novo", content="Texto.")
        done = document_create_text(title="Pronto", content="Texto.")
        document_ingest(done.pk, 1)
        Document.objects.filter(pk__in=[stuck.pk, done.pk]).update(updated_at=old)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            assert document_sweep() == 1
        assert len(callbacks) == 1
        assert Document.objects.get(pk=stuck.pk).updated_at > old
        assert Document.objects.get(pk=fresh.pk).updated_at > old
        assert document_sweep() == 0  # touched: not sent again by the next sweep
    with schema_context(other_tenant.schema_name):
        assert Document.objects.get(pk=theirs.pk).updated_at == old
