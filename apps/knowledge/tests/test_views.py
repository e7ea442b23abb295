"""The knowledge pages as staff meet them: the list (filters, live status, empty state), adding a
document by writing, uploading or importing a page (the services' refusals shown on the form with
what was typed kept), editing, processing again, deleting, and the search page. Agents without
knowledge.manage get 403; alpha never sees or touches beta's documents."""
from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils.html import escape
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.knowledge import selectors, services
from apps.knowledge.models import Document, DocumentSource, DocumentStatus
from conftest import as_shown, host_of, make_user

pytestmark = pytest.mark.django_db

DELIVERY = ("Entregamos em Curitiba, São José dos Pinhais e Colombo de terça a sábado. A taxa de entrega é "
            "de R$ 8,00 e o pedido mínimo é de R$ 50,00.")
PAYMENT = "Aceitamos Pix, cartão de crédito e débito na entrega. Não aceitamos cheque."
# 1x1 PNG: an image whatever its name says
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def _client(tenant, user) -> Client:
    client = Client(HTTP_HOST=host_of(tenant))
    with schema_context(tenant.schema_name):
        client.force_login(user)
    return client


def _html(response) -> str:
    return response.content.decode()


def _shows(response, msgid) -> bool:
    return escape(as_shown(response, msgid)) in _html(response)


def make_document(schema="alpha", *, title="Entregas", content=DELIVERY, category="", ingest=True) -> Document:
    """A typed document, processed the way the worker would (the test's transaction never commits,
    so the task enqueued on commit never runs)."""
    with schema_context(schema):
        document = services.document_create_text(title=title, content=content, category=category)
        if ingest:
            services.document_ingest(document.pk, document.version)
        document.refresh_from_db()
        return document


def _in_alpha(fn):
    with schema_context("alpha"):
        return fn()


def _count(schema="alpha") -> int:
    with schema_context(schema):
        return Document.objects.count()


def _service_error(fn, response) -> list[str]:
    """What the service says about this input, in the language ``response`` was rendered in (the
    page must show the same)."""
    from django.utils import translation

    language = response.headers.get("Content-Language", "pt-br")
    with schema_context("alpha"), translation.override(language), pytest.raises(ValidationError) as caught:
        fn()
    return caught.value.messages


# --- access -------------------------------------------------------------------------------------

def test_pages_need_the_knowledge_capability(tenant, owner_client, tenant_client):
    doc = make_document()
    agent = _client(tenant, make_user(tenant, email="agent.k@alpha.test", role=Role.AGENT))
    supervisor = _client(tenant, make_user(tenant, email="sup.k@alpha.test", role=Role.SUPERVISOR))
    pages = ["/knowledge/", "/knowledge/new/", "/knowledge/search/?q=entrega", f"/knowledge/{doc.pk}/edit/",
             f"/knowledge/{doc.pk}/status/"]
    for page in pages:
        assert owner_client.get(page).status_code == 200, page
        assert supervisor.get(page).status_code == 200, page
        assert agent.get(page).status_code == 403, page
        assert tenant_client.get(page).status_code == 302, page  # anonymous -> login
    for action in ("reingest", "delete", "edit"):
        assert agent.post(f"/knowledge/{doc.pk}/{action}/", {"title": "x"}).status_code == 403
    assert agent.post("/knowledge/new/", {"kind": "text", "text-title": "x", "text-content": "y"}).status_code == 403
    assert _count() == 1
    with schema_context("alpha"):
        assert Document.objects.get().title == "Entregas"
    # the sidebar offers the knowledge base to those who may use it
    assert 'data-nav="knowledge"' in _html(owner_client.get("/"))
    assert 'data-nav="knowledge"' not in _html(agent.get("/"))


# --- list ---------------------------------------------------------------------------------------

def test_empty_state_explains_what_to_do(owner_client):
    response = owner_client.get("/knowledge/")
    assert response.status_code == 200
    assert 'data-testid="documents-empty"' in _html(response)
    assert _shows(response, "Your knowledge base is empty")
    assert 'href="/knowledge/new/"' in _html(response)
    assert 'data-testid="document-filters"' not in _html(response)


def test_list_shows_each_document_with_its_numbers(owner_client):
    ready = make_document(title="Entregas", category="Logística")
    pending = make_document(title="Pagamento", content=PAYMENT, category="Financeiro", ingest=False)
    assert ready.status == DocumentStatus.READY and ready.chunk_count >= 1
    html = _html(owner_client.get("/knowledge/"))
    rows = dict(re.findall(r'<li id="document-(\d+)"(.*?)</li>', html, flags=re.S))
    assert list(rows) == [str(pending.pk), str(ready.pk)]  # most recently updated first
    ready_row = rows[str(ready.pk)]
    assert "Logística" in ready_row and 'data-status="ready"' in ready_row and 'data-source="text"' in ready_row
    assert f'id="doc-{ready.pk}-chars" data-testid="document-chars">{len(DELIVERY)}<' in html
    assert f'id="doc-{ready.pk}-chunks" data-testid="document-chunks">{ready.chunk_count}<' in html
    # the pending one polls its status; the ready one does not
    assert f'hx-get="/knowledge/{pending.pk}/status/" hx-trigger="every 1s"' in html
    assert f'hx-get="/knowledge/{ready.pk}/status/"' not in html
    assert 'role="progressbar"' in html


def test_filters_by_category_status_and_title(owner_client):
    delivery = make_document(title="Entregas", category="Logística")
    payment = make_document(title="Formas de pagamento", content=PAYMENT, category="Financeiro", ingest=False)

    def listed(query):
        html = _html(owner_client.get("/knowledge/" + query))
        return [int(pk) for pk in re.findall(r'<li id="document-(\d+)"', html)]

    assert set(listed("")) == {delivery.pk, payment.pk}
    assert listed("?category=Financeiro") == [payment.pk]
    assert listed("?status=ready") == [delivery.pk]
    assert listed("?status=pending") == [payment.pk]
    assert listed("?q=pagam") == [payment.pk]
    assert listed("?q=pagam&category=Logística") == []
    assert set(listed("?status=bogus")) == {delivery.pk, payment.pk}  # a bad filter is ignored, not a 500
    response = owner_client.get("/knowledge/?q=nada-disso")
    assert 'data-testid="documents-no-match"' in _html(response)
    # htmx asks for the list only
    fragment = owner_client.get("/knowledge/?category=Logística", HTTP_HX_REQUEST="true",
                                HTTP_HX_TARGET="document-list")
    assert _html(fragment).startswith('<div id="document-list">')
    assert "<html" not in _html(fragment)
    # the category filter offers the categories in use
    html = _html(owner_client.get("/knowledge/"))
    assert '<option value="Financeiro">' in html and '<option value="Logística">' in html


# --- status partial -----------------------------------------------------------------------------

def test_status_partial_polls_until_ready_then_brings_the_counts(owner_client):
    doc = make_document(ingest=False)
    response = owner_client.get(f"/knowledge/{doc.pk}/status/", HTTP_HX_REQUEST="true")
    html = _html(response)
    assert response.status_code == 200
    assert 'data-status="pending"' in html and 'hx-trigger="every 1s"' in html and 'role="progressbar"' in html
    with schema_context("alpha"):
        services.document_ingest(doc.pk, doc.version)
        doc.refresh_from_db()
    html = _html(owner_client.get(f"/knowledge/{doc.pk}/status/", HTTP_HX_REQUEST="true"))
    assert 'data-status="ready"' in html
    assert "hx-trigger" not in html and 'role="progressbar"' not in html  # polling stops
    for name, value in (("chunks", doc.chunk_count), ("chars", doc.char_count)):
        assert (f'<span id="doc-{doc.pk}-{name}" data-testid="document-{name}" hx-swap-oob="true">{value}</span>'
                in html)


def test_status_partial_shows_the_failure_reason(owner_client):
    doc = make_document(ingest=False)
    with schema_context("alpha"):
        Document.objects.filter(pk=doc.pk).update(status=DocumentStatus.FAILED, error="O PDF não tem texto.")
    html = _html(owner_client.get(f"/knowledge/{doc.pk}/status/", HTTP_HX_REQUEST="true"))
    assert 'data-status="failed"' in html and "hx-trigger" not in html
    assert 'data-testid="document-error">O PDF não tem texto.</p>' in html
    assert "O PDF não tem texto." in _html(owner_client.get("/knowledge/"))


def test_status_of_a_deleted_document_stops_the_polling(owner_client):
    doc = make_document(ingest=False)
    with schema_context("alpha"):
        services.document_delete(doc)
    assert owner_client.get(f"/knowledge/{doc.pk}/status/", HTTP_HX_REQUEST="true").status_code == 286
    assert owner_client.get(f"/knowledge/{doc.pk}/status/").status_code == 404


# --- new document -------------------------------------------------------------------------------

def test_new_page_has_three_tabs_and_the_counter(owner_client):
    response = owner_client.get("/knowledge/new/")
    html = _html(response)
    limit = _in_alpha(selectors.max_document_chars)
    for tab in ("text", "file", "url"):
        assert f'data-testid="panel-{tab}"' in html and f'value="{tab}"' in html
    assert 'data-testid="char-counter"' in html
    assert f"max: {limit}," in html  # the counter's limit is the tenant's
    assert 'accept=".pdf,.docx,.txt,.md,.csv"' in html
    assert 'enctype="multipart/form-data"' in html
    # a tab can be opened by its address (and without script)
    assert "tab: 'url'" in _html(owner_client.get("/knowledge/new/?tab=url"))
    assert "tab: 'text'" in _html(owner_client.get("/knowledge/new/?tab=nonsense"))


def test_write_a_document(owner, owner_client):
    response = owner_client.post("/knowledge/new/", {"kind": "text", "text-title": " Entregas ",
                                                     "text-category": "Logística",
                                                     "text-content": "Linha um.\r\nLinha dois."})
    assert response.status_code == 302 and response["Location"] == "/knowledge/"
    with schema_context("alpha"):
        doc = Document.objects.get()
    assert (doc.title, doc.category, doc.source) == ("Entregas", "Logística", DocumentSource.TEXT)
    assert doc.content == "Linha um.\nLinha dois."  # the browser's CRLF is one character, as counted
    assert doc.created_by_id == owner.pk
    assert doc.status == DocumentStatus.PENDING
    page = owner_client.get("/knowledge/")
    assert 'class="alert alert-success"' in _html(page) and "Entregas" in _html(page)


def test_text_at_the_limit_counts_line_breaks_once(owner_client):
    limit = _in_alpha(selectors.max_document_chars)
    lines = ["Linha de texto número %06d." % i for i in range(limit // 28 + 2)]
    text = "\n".join(lines)[:limit]
    assert len(text) == limit
    response = owner_client.post("/knowledge/new/", {"kind": "text", "text-title": "No limite",
                                                     "text-content": text.replace("\n", "\r\n")})
    assert response.status_code == 302, _html(response)[:2000]
    with schema_context("alpha"):
        assert Document.objects.get().char_count == limit


def test_text_over_the_limit_is_a_form_error_and_keeps_the_text(owner_client):
    limit = _in_alpha(selectors.max_document_chars)
    text = ("Entregamos de terça a sábado. " * (limit // 30 + 2))[:limit + 1]
    response = owner_client.post("/knowledge/new/", {"kind": "text", "text-title": "Grande", "text-category": "X",
                                                     "text-content": text})
    expected = _service_error(lambda: services.document_create_text(title="Grande", content=text), response)
    html = _html(response)
    assert response.status_code == 400
    assert _count() == 0
    assert 'data-testid="content-error"' in html
    for message in expected:
        assert escape(message) in html
    assert escape(text) in html  # what was typed is still in the textarea
    assert 'value="Grande"' in html and "tab: 'text'" in html


def test_empty_text_and_missing_title_are_form_errors(owner_client):
    response = owner_client.post("/knowledge/new/", {"kind": "text", "text-title": "  ", "text-content": " \r\n "})
    assert response.status_code == 400
    assert _shows(response, "Give the document a title.")
    assert _shows(response, "Write the text the assistant should know.")
    assert _count() == 0


def test_upload_a_text_file(owner_client):
    upload = SimpleUploadedFile("horarios.txt", "Abrimos de segunda a sábado, das 8h às 18h.".encode(),
                                content_type="text/plain")
    response = owner_client.post("/knowledge/new/", {"kind": "file", "file-file": upload, "file-category": "Loja"})
    assert response.status_code == 302, _html(response)[:2000]
    with schema_context("alpha"):
        doc = Document.objects.get()
    assert doc.source == DocumentSource.FILE and doc.category == "Loja" and doc.title


def test_upload_of_a_bad_type_is_a_form_error(owner_client):
    response = owner_client.post("/knowledge/new/", {
        "kind": "file", "file-title": "Tabela", "file-file": SimpleUploadedFile("tabela.pdf", PNG,
                                                                                content_type="application/pdf")})
    expected = _service_error(lambda: services.document_create_file(
        upload=SimpleUploadedFile("tabela.pdf", PNG, content_type="application/pdf")), response)
    html = _html(response)
    assert response.status_code == 400
    assert _count() == 0
    for message in expected:
        assert escape(message) in html
    assert "tab: 'file'" in html and 'value="Tabela"' in html
    # no file at all
    response = owner_client.post("/knowledge/new/", {"kind": "file", "file-title": "Nada"})
    assert response.status_code == 400 and _shows(response, "Choose a file to upload.")
    assert _count() == 0


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/precos", "http://localhost/", "http://169.254.169.254/"])
def test_url_import_of_a_private_address_is_a_form_error(owner_client, url):
    response = owner_client.post("/knowledge/new/", {"kind": "url", "url-url": url, "url-title": "Preços"})
    expected = _service_error(lambda: services.document_create_url(url=url), response)
    html = _html(response)
    assert response.status_code == 400
    assert _count() == 0
    for message in expected:
        assert escape(message) in html
    assert "tab: 'url'" in html and f'value="{url}"' in html


def test_url_import_needs_an_address(owner_client):
    response = owner_client.post("/knowledge/new/", {"kind": "url", "url-url": ""})
    assert response.status_code == 400 and _shows(response, "Paste the address of the page to import.")


# --- edit, process again, delete ----------------------------------------------------------------

def test_edit_a_typed_document_reprocesses_new_text(owner_client):
    doc = make_document(category="Logística")
    page = _html(owner_client.get(f"/knowledge/{doc.pk}/edit/"))
    assert escape(DELIVERY) in page and 'data-testid="char-counter"' in page
    # the category only: nothing to process again
    response = owner_client.post(f"/knowledge/{doc.pk}/edit/", {"title": "Entregas", "category": "Frete",
                                                                "content": DELIVERY})
    assert response.status_code == 302
    with schema_context("alpha"):
        same = Document.objects.get(pk=doc.pk)
    assert (same.category, same.version, same.status) == ("Frete", doc.version, DocumentStatus.READY)
    # new text: a new version, processed again
    new_text = DELIVERY + "\r\nAos domingos não entregamos."
    response = owner_client.post(f"/knowledge/{doc.pk}/edit/", {"title": "Entregas 2025", "category": "",
                                                                "content": new_text})
    assert response.status_code == 302
    with schema_context("alpha"):
        changed = Document.objects.get(pk=doc.pk)
    assert changed.version == doc.version + 1 and (changed.title, changed.category) == ("Entregas 2025", "")
    assert changed.content == DELIVERY + "\nAos domingos não entregamos."
    assert changed.status in (DocumentStatus.PENDING, DocumentStatus.PROCESSING)


def test_edit_over_the_limit_keeps_the_text_and_the_document(owner_client):
    doc = make_document()
    limit = _in_alpha(selectors.max_document_chars)
    text = "x" * (limit + 5)
    response = owner_client.post(f"/knowledge/{doc.pk}/edit/", {"title": "Outro", "content": text})
    assert response.status_code == 400
    assert 'data-testid="content-error"' in _html(response) and text in _html(response)
    with schema_context("alpha"):
        same = Document.objects.get(pk=doc.pk)
    assert (same.title, same.content, same.version) == ("Entregas", DELIVERY, doc.version)


def test_edit_a_file_document_has_no_text_field(owner_client):
    with schema_context("alpha"):
        doc = services.document_create_file(upload=SimpleUploadedFile("h.txt", b"Abrimos as 8h.",
                                                                      content_type="text/plain"), title="Horas")
    html = _html(owner_client.get(f"/knowledge/{doc.pk}/edit/"))
    assert 'name="content"' not in html and 'data-testid="char-counter"' not in html
    response = owner_client.post(f"/knowledge/{doc.pk}/edit/", {"title": "Horário", "category": "Loja",
                                                                "content": "ignored"})
    assert response.status_code == 302
    with schema_context("alpha"):
        doc.refresh_from_db()
    assert (doc.title, doc.category) == ("Horário", "Loja")


def test_reingest_and_delete(owner_client):
    doc = make_document()
    response = owner_client.post(f"/knowledge/{doc.pk}/reingest/", follow=True)
    assert response.status_code == 200
    with schema_context("alpha"):
        doc.refresh_from_db()
    assert doc.status in (DocumentStatus.PENDING, DocumentStatus.PROCESSING)
    assert 'class="alert alert-success"' in _html(response)
    # delete asks first (on the page), then deletes
    assert 'data-testid="confirm-delete"' in _html(response)
    response = owner_client.post(f"/knowledge/{doc.pk}/delete/", follow=True)
    assert response.status_code == 200 and _count() == 0
    assert owner_client.get(f"/knowledge/{doc.pk}/delete/").status_code == 405
    assert owner_client.post(f"/knowledge/{doc.pk}/delete/").status_code == 404


# --- search -------------------------------------------------------------------------------------

def test_search_page_shows_the_chunks_scores_and_confidence(owner_client):
    delivery = make_document(title="Entregas", content=DELIVERY)
    make_document(title="Pagamento", content=PAYMENT)
    response = owner_client.get("/knowledge/search/?q=Qual a taxa de entrega?")
    html = _html(response)
    assert response.status_code == 200
    chunks = re.findall(r'data-testid="search-chunk" data-chunk-id="\d+" data-document-id="(\d+)"', html)
    assert chunks and chunks[0] == str(delivery.pk)
    assert "A taxa de entrega é de R$ 8,00" in html
    assert 'data-testid="confidence"' in html and 'data-mode="fts"' in html
    assert _shows(response, "Full-text") and _shows(response, "Fused score") and _shows(response, "Vector score")
    assert 'data-testid="confidence-help"' in html and ("0,5" in html or "0.5" in html)


def test_search_page_empty_states(owner_client):
    response = owner_client.get("/knowledge/search/")
    assert 'data-testid="search-no-documents"' in _html(response)
    make_document()
    response = owner_client.get("/knowledge/search/")
    assert 'data-testid="search-start"' in _html(response)
    # nothing relevant: no passage, and the page says what the assistant would do
    response = owner_client.get("/knowledge/search/?q=astronomia quântica de buracos negros")
    html = _html(response)
    assert 'data-testid="search-empty"' in html and 'data-testid="search-chunk"' not in html
    assert 'data-verdict="handoff"' in html
    # too long: a form error, no search
    response = owner_client.get("/knowledge/search/?q=" + "entrega " * 80)
    assert response.status_code == 200
    assert 'class="field-error"' in _html(response) and 'data-testid="search-summary"' not in _html(response)


def test_search_page_for_one_assistant_uses_its_documents(owner_client):
    from apps.agents.models import Assistant

    delivery = make_document(title="Entregas", content=DELIVERY)
    payment = make_document(title="Pagamento", content="Entrega paga com Pix. " + PAYMENT)
    with schema_context("alpha"):
        bound = Assistant.objects.create(name="Vendas", confidence_threshold=0.7)
        bound.documents.set([payment])
        unbound = Assistant.objects.create(name="Geral")

    def found(query):
        html = _html(owner_client.get("/knowledge/search/" + query))
        found_ids = re.findall(r'data-testid="search-chunk" data-chunk-id="\d+" data-document-id="(\d+)"', html)
        return {int(pk) for pk in found_ids}, html

    everything, _ = found("?q=entrega")
    assert everything == {delivery.pk, payment.pk}
    only_bound, html = found(f"?q=entrega&assistant={bound.pk}")
    assert only_bound == {payment.pk}
    assert "0,70" in html or "0.70" in html  # its own threshold
    assert found(f"?q=entrega&assistant={unbound.pk}")[0] == {delivery.pk, payment.pk}  # none bound = all
    response = owner_client.get("/knowledge/search/?q=entrega&assistant=999999")
    assert response.status_code == 200 and 'data-testid="search-chunk"' not in _html(response)


# --- isolation ----------------------------------------------------------------------------------

def test_alpha_never_sees_or_touches_betas_documents(owner_client, other_tenant):
    beta_doc = make_document("beta", title="Cardápio da Beta", content="Pizza de calabresa gigante custa R$ 70.")
    # alpha has no documents yet: beta's id means nothing here
    for page in (f"/knowledge/{beta_doc.pk}/edit/", f"/knowledge/{beta_doc.pk}/status/"):
        assert owner_client.get(page).status_code == 404
    assert owner_client.post(f"/knowledge/{beta_doc.pk}/delete/").status_code == 404
    assert owner_client.post(f"/knowledge/{beta_doc.pk}/reingest/").status_code == 404
    assert owner_client.post(f"/knowledge/{beta_doc.pk}/edit/", {"title": "x", "content": "y"}).status_code == 404
    make_document(title="Entregas")
    html = _html(owner_client.get("/knowledge/"))
    assert "Cardápio da Beta" not in html and "Entregas" in html
    search = _html(owner_client.get("/knowledge/search/?q=pizza calabresa gigante"))
    assert 'data-testid="search-empty"' in search and "R$ 70" not in search
    with schema_context("beta"):
        beta_doc.refresh_from_db()
        assert (beta_doc.title, beta_doc.version) == ("Cardápio da Beta", 1)
    # beta's own admin sees it on beta's domain
    from apps.accounts.models import User

    with schema_context("beta"):
        beta_owner = User.objects.get(email="owner@beta.test")
    assert "Cardápio da Beta" in _html(_client(other_tenant, beta_owner).get("/knowledge/"))
