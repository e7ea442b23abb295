"""The knowledge base in a real browser against a live uvicorn: the demo admin writes a document
(the live character counter follows the typing and turns red over the limit; the server refuses
an over-long text and keeps it in the form), watches it go from the progress bar to Ready, finds
it on the search page, deletes it; then the same pages on a phone, without sideways scrolling.

The browser server has no Celery worker: the test runs the ingestion itself, as the worker would,
on the committed document, and the page's status polling picks the result up."""
from __future__ import annotations

import re
import secrets

import pytest
from django.db import connection

from .conftest import SCREENSHOTS
from .helpers import no_horizontal_scroll as _no_horizontal_scroll
from .helpers import sign_in as _sign_in
from .helpers import watch as _watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

SCHEMA = "3afrios"
LIVE = 15_000  # ms; the status polls every second


def _pt(number: int) -> str:
    """A number as the pt-BR page shows it (1.234)."""
    return f"{number:,}".replace(",", ".")


def _limit() -> int:
    from django_tenants.utils import schema_context

    from apps.knowledge.selectors import max_document_chars

    with schema_context(SCHEMA):
        return max_document_chars()


def _ingest(pk: int) -> None:
    """What the worker does with the document the page just created."""
    from django_tenants.utils import schema_context

    from apps.knowledge.models import Document
    from apps.knowledge.services import document_ingest

    with schema_context(SCHEMA):
        document = Document.objects.get(pk=pk)
        document_ingest(document.pk, document.version)


def _delete_titled(title: str) -> None:
    from django_tenants.utils import schema_context

    from apps.knowledge.models import Document
    from apps.knowledge.services import document_delete

    with schema_context(SCHEMA):
        for document in Document.objects.filter(title=title):
            document_delete(document)


def _gettext(msgid: str) -> str:
    from django.utils import translation

    with translation.override("pt-br"):
        return translation.gettext(msgid)


@pytest.fixture
def db_thread(shell_server, django_db_blocker):
    """Run database work committed, in its own thread (Playwright's loop runs in this one)."""
    from apps.notifications.tests.realtime import in_fresh_thread

    with django_db_blocker.unblock():
        yield in_fresh_thread
    connection.set_schema_to_public()


def test_write_process_search_and_delete_a_document(shell_server, demo_admin, browser, db_thread):
    from playwright.sync_api import expect

    tag = secrets.token_hex(3)
    title = f"Entregas {tag}"
    text = (f"Código {tag}: entregamos frios artesanais em Curitiba e região de terça a sábado, das 9h às 18h. "
            "A taxa de entrega é de R$ 8,00 e o pedido mínimo é de R$ 50,00.")
    limit = db_thread(_limit)
    problems: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    _watch(page, problems)
    _sign_in(page, shell_server, *demo_admin)
    try:
        # 1. the list, then the "write" tab of a new document
        page.goto(shell_server + "/knowledge/")
        with page.expect_navigation():
            page.get_by_test_id("new-document").click()
        expect(page.get_by_test_id("panel-text")).to_be_visible()
        expect(page.get_by_test_id("panel-file")).to_be_hidden()
        page.get_by_test_id("tab-file").click()  # the tabs switch without a reload
        expect(page.get_by_test_id("panel-file")).to_be_visible()
        expect(page.locator("input[type=file][name=file-file]")).to_have_attribute("accept", ".pdf,.docx,.txt,.md,.csv")
        page.get_by_test_id("tab-text").click()
        expect(page.get_by_test_id("panel-text")).to_be_visible()

        # 2. the counter follows the typing
        counter = page.get_by_test_id("char-counter")
        expect(counter).to_have_text(re.compile(rf"^\s*0 / {re.escape(_pt(limit))}\s*$"))
        page.fill("input[name=text-title]", title)
        page.fill("input[name=text-category]", "Entregas")
        content = page.locator("textarea[name=text-content]")
        content.press_sequentially("Olá\nmundo")
        expect(counter).to_have_text(re.compile(rf"^\s*9 / {re.escape(_pt(limit))}\s*$"))
        expect(counter).to_have_attribute("data-over", "false")
        expect(page.get_by_test_id("over-limit")).to_be_hidden()

        # 3. over the limit: red at once, and the server refuses it without losing the text
        content.fill("a" * (limit + 1))
        expect(counter).to_have_text(re.compile(rf"^\s*{re.escape(_pt(limit + 1))} / {re.escape(_pt(limit))}\s*$"))
        expect(counter).to_have_attribute("data-over", "true")
        expect(counter).to_have_class(re.compile(r"\btext-danger\b"))
        expect(page.get_by_test_id("over-limit")).to_be_visible()
        with page.expect_navigation():
            page.get_by_test_id("text-submit").click()
        expect(page.get_by_test_id("content-error")).to_be_visible()
        assert page.locator("textarea[name=text-content]").evaluate("el => el.value.length") == limit + 1
        expect(page.locator("input[name=text-title]")).to_have_value(title)
        expect(page.get_by_test_id("char-counter")).to_have_attribute("data-over", "true")

        # 4. the right text: saved, pending, with a progress bar
        page.locator("textarea[name=text-content]").fill(text)
        expect(page.get_by_test_id("char-counter")).to_have_attribute("data-over", "false")
        with page.expect_navigation():
            page.get_by_test_id("text-submit").click()
        assert page.url.endswith("/knowledge/"), page.url
        expect(page.locator("#messages .alert-success")).to_be_visible()
        row = page.get_by_test_id("document-row").filter(has_text=title)
        expect(row).to_have_count(1)
        status = row.get_by_test_id("document-status")
        expect(status).to_have_attribute("data-status", "pending")
        expect(row.get_by_test_id("progress")).to_be_visible()
        expect(row.get_by_test_id("document-chunks")).to_have_text("0")
        expect(row.get_by_test_id("document-chars")).to_have_text(_pt(len(text)))
        page.screenshot(path=str(SCREENSHOTS / "knowledge-pending-1280.png"), full_page=True)

        # 5. the ingestion runs; the polling shows Ready and the new chunk count, no reload
        pk = int(row.get_attribute("data-document-id"))
        db_thread(_ingest, pk)
        expect(status).to_have_attribute("data-status", "ready", timeout=LIVE)
        expect(status.get_by_test_id("status-badge")).to_contain_text(_gettext("Ready"))
        expect(row.get_by_test_id("progress")).to_have_count(0)
        expect(row.get_by_test_id("document-chunks")).not_to_have_text("0")
        # the polling has stopped: no status request once Ready is shown
        polls: list[str] = []
        page.on("request", lambda r: polls.append(r.url) if f"/knowledge/{pk}/status/" in r.url else None)
        page.wait_for_timeout(2500)
        assert polls == [], polls
        page.screenshot(path=str(SCREENSHOTS / "knowledge-ready-1280.png"), full_page=True)

        # 6. the search page finds it, with its scores and the confidence
        with page.expect_navigation():
            page.get_by_test_id("open-search").click()
        page.fill("input[name=q]", f"taxa de entrega {tag}")
        with page.expect_navigation():
            page.get_by_test_id("search-submit").click()
        chunk = page.locator(f'[data-testid="search-chunk"][data-document-id="{pk}"]')
        expect(chunk.first).to_be_visible()
        expect(chunk.first).to_contain_text(tag)
        expect(chunk.first).to_contain_text("R$ 8,00")
        expect(chunk.first.get_by_role("heading")).to_contain_text(title)
        expect(page.get_by_test_id("confidence")).to_have_text(re.compile(r"^\d[,.]\d\d$"))
        expect(page.get_by_test_id("mode")).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / "knowledge-search-1280.png"), full_page=True)
        state = context.storage_state()

        # 7. a phone: list, new document (counter), search - nothing scrolls sideways
        phone = browser.new_context(viewport={"width": 375, "height": 812}, storage_state=state, is_mobile=True,
                                    has_touch=True)
        mobile = phone.new_page()
        _watch(mobile, problems)
        mobile.goto(shell_server + "/knowledge/")
        mobile_row = mobile.get_by_test_id("document-row").filter(has_text=title)
        expect(mobile_row).to_be_visible()
        expect(mobile_row.get_by_test_id("document-status")).to_have_attribute("data-status", "ready")
        for action in ("edit", "reingest", "delete"):
            box = mobile_row.get_by_test_id(action).bounding_box()
            assert box["width"] >= 44 and box["height"] >= 44, (action, box)
        _no_horizontal_scroll(mobile)
        mobile.screenshot(path=str(SCREENSHOTS / "knowledge-375.png"), full_page=True)
        mobile.goto(shell_server + "/knowledge/new/")
        mobile.locator("textarea[name=text-content]").press_sequentially("Oi!")
        expect(mobile.get_by_test_id("char-counter")).to_have_text(re.compile(rf"^\s*3 / {re.escape(_pt(limit))}\s*$"))
        for tab in ("tab-text", "tab-file", "tab-url"):
            box = mobile.get_by_test_id(tab).bounding_box()
            assert box["height"] >= 44, (tab, box)
        _no_horizontal_scroll(mobile)
        mobile.screenshot(path=str(SCREENSHOTS / "knowledge-new-375.png"), full_page=True)
        mobile.goto(shell_server + f"/knowledge/search/?q=taxa+de+entrega+{tag}")
        expect(mobile.get_by_test_id("search-chunk").filter(has_text=tag).first).to_be_visible()
        _no_horizontal_scroll(mobile)
        mobile.screenshot(path=str(SCREENSHOTS / "knowledge-search-375.png"), full_page=True)
        phone.close()

        # 8. delete asks first, then the row is gone
        page.goto(shell_server + "/knowledge/")
        row = page.get_by_test_id("document-row").filter(has_text=title)
        row.get_by_test_id("delete").click()
        confirm = row.get_by_test_id("confirm-delete")
        expect(confirm).to_be_visible()
        with page.expect_navigation():
            confirm.click()
        expect(page.get_by_test_id("document-row").filter(has_text=title)).to_have_count(0)
        expect(page.locator("#messages .alert-success")).to_be_visible()
    finally:
        context.close()
        db_thread(_delete_titled, title)
    assert not problems, problems
