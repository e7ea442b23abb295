"""The AI pages in a real browser against a live uvicorn: the demo admin opens AI assistants, sees
the retrieval-only label (the demo has no AI key), edits the fallback message and saves it (the
message placeholders follow the tone), opens AI activity and a decision in its drawer; in the inbox
an AI answer's "Why this answer?" and "Summarize conversation" open the side drawer; a model
provider's Test button shows the provider's error in place; then the pages on a 375 px phone,
without sideways scrolling."""
from __future__ import annotations

import re
import secrets

import pytest
from django.db import connection

from tests.fakes.openai_server import FakeOpenAI

from .conftest import SCREENSHOTS
from .helpers import no_horizontal_scroll as _no_horizontal_scroll
from .helpers import sign_in as _sign_in
from .helpers import watch as _watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

SCHEMA = "3afrios"
LIVE = 15_000  # ms
WRONG_KEY = "sk-not-the-right-key-4242424242"


def _gettext(msgid: str) -> str:
    from django.utils import translation

    with translation.override("pt-br"):
        return translation.gettext(msgid)


def _tone_default(tone: str, field: str) -> str:
    from django.utils import translation

    from apps.agents.defaults import default_messages

    with translation.override("pt-br"):
        return default_messages(tone)[field]


@pytest.fixture
def db_thread(shell_server, django_db_blocker):
    """Run database work committed, in its own thread (Playwright's loop runs in this one)."""
    from apps.notifications.tests.realtime import in_fresh_thread

    with django_db_blocker.unblock():
        yield in_fresh_thread
    connection.set_schema_to_public()


def _demo_assistant() -> dict:
    """The demo's assistant (made if the demo seeder did not), and what the test will change."""
    from django_tenants.utils import schema_context

    from apps.agents.models import Assistant
    from apps.agents.services.assistants import assistant_create

    with schema_context(SCHEMA):
        assistant = Assistant.objects.order_by("-is_default", "pk").first()
        made = assistant is None
        if made:
            assistant = assistant_create(name="Assistente 3A")
        return {"pk": assistant.pk, "name": assistant.name, "fallback": assistant.fallback_message,
                "tone": assistant.tone, "made": made}


def _restore(state: dict) -> None:
    from django_tenants.utils import schema_context

    from apps.agents.models import Assistant

    with schema_context(SCHEMA):
        if state["made"]:
            Assistant.objects.filter(pk=state["pk"]).delete()
        else:
            Assistant.objects.filter(pk=state["pk"]).update(fallback_message=state["fallback"], tone=state["tone"])


def _fallback_of(pk: int) -> str:
    from django_tenants.utils import schema_context

    from apps.agents.models import Assistant

    with schema_context(SCHEMA):
        return Assistant.objects.get(pk=pk).fallback_message


def _ai_conversation(assistant_pk: int) -> dict:
    """A customer's question, the assistant's answer and its decision on the demo's first number."""
    from decimal import Decimal

    from django_tenants.utils import schema_context

    from apps.agents.models import Decision
    from apps.crm.models import Contact
    from apps.inbox.models import Conversation, Message
    from apps.whatsapp.models import Connection

    with schema_context(SCHEMA):
        connection_row = Connection.objects.order_by("pk").first()
        contact = Contact.objects.create(name=f"Cliente IA {secrets.token_hex(2)}",
                                         phone=f"+55819{secrets.randbelow(10**8):08d}")
        conversation = Conversation.objects.create(contact=contact, connection=connection_row)
        question = Message.objects.create(conversation=conversation, direction="in", sender_kind="contact",
                                          text="Vocês entregam no centro?", status="received")
        decision = Decision.objects.create(
            conversation=conversation, assistant_id=assistant_pk, action="answered", confidence=0.71,
            input_message_ids=[question.pk], input_text=question.text, latency_ms=35, cost=Decimal("0"),
            chunks=[{"chunk_id": 1, "document_id": 1, "title": "Áreas e taxas de entrega", "score": 0.71,
                     "fts_rank": 0.3, "vector_score": None, "text": "Entregamos no centro de segunda a sábado."}])
        answer = Message.objects.create(conversation=conversation, direction="out", sender_kind="ai",
                                        text="Entregamos no centro de segunda a sábado.", status="sent",
                                        payload={"decision_id": decision.pk})
        Decision.objects.filter(pk=decision.pk).update(reply_message_ids=[answer.pk])
        return {"conversation": conversation.pk, "contact": contact.pk, "decision": decision.pk}


def _provider(base_url: str) -> int:
    """A provider whose key the fake server refuses (not the default: the demo stays retrieval-only)."""
    from django_tenants.utils import schema_context

    from apps.agents.models import ModelProvider

    with schema_context(SCHEMA):
        return ModelProvider.objects.create(name="Fake", base_url=base_url, api_key=WRONG_KEY).pk


def _drop_conversation(made: dict) -> None:
    from django_tenants.utils import schema_context

    from apps.agents.models import ModelProvider
    from apps.crm.models import Contact
    from apps.inbox.models import Conversation

    with schema_context(SCHEMA):
        Conversation.objects.filter(pk=made["conversation"]).delete()
        Contact.objects.filter(pk=made["contact"]).delete()
        if made.get("provider"):
            ModelProvider.objects.filter(pk=made["provider"]).delete()


def test_assistants_activity_and_the_inbox_drawer(shell_server, demo_admin, browser, db_thread):
    from playwright.sync_api import expect

    state = db_thread(_demo_assistant)
    made = db_thread(_ai_conversation, state["pk"])
    problems: list[str] = []
    try:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        _watch(page, problems)
        _sign_in(page, shell_server, *demo_admin)

        # the list: retrieval-only, said plainly, with the way out
        page.goto(shell_server + "/ai/")
        card = page.locator(f"[data-assistant='{state['pk']}']")
        expect(card.get_by_test_id("mode-retrieval")).to_have_text(_gettext("Retrieval only — no AI key"))
        expect(page.get_by_test_id("retrieval-help")).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / "assistants-1280.png"), full_page=True)

        # edit: the blank messages show the tone's defaults, and follow the tone select
        card.get_by_test_id("edit-assistant").click()
        page.wait_for_url(re.compile(rf"/ai/{state['pk']}/$"))
        greeting = page.locator("textarea[name=greeting_message]")
        page.select_option("select[name=tone]", "formal")
        expect(greeting).to_have_attribute("placeholder", _tone_default("formal", "greeting_message"))
        page.select_option("select[name=tone]", "casual")
        expect(greeting).to_have_attribute("placeholder", _tone_default("casual", "greeting_message"))
        text = f"Vou chamar alguém da equipe, só um instante! ({secrets.token_hex(2)})"
        page.fill("textarea[name=fallback_message]", text)
        with page.expect_navigation():
            page.get_by_test_id("save-assistant").click()
        assert page.url.endswith("/ai/"), page.url
        expect(page.locator("#messages .alert-success")).to_be_visible()
        assert db_thread(_fallback_of, state["pk"]) == text

        # AI activity, and one decision in the drawer
        page.get_by_test_id("ai-tabs").get_by_role("link", name=_gettext("AI activity")).click()
        page.wait_for_url(re.compile(r"/ai/activity/$"))
        row = page.locator(f"tr[data-decision='{made['decision']}']")
        expect(row).to_be_visible()
        row.get_by_test_id("decision-link").click()
        drawer = page.locator("#decision-drawer")
        expect(drawer.get_by_test_id("decision-detail")).to_be_visible(timeout=LIVE)
        expect(drawer).to_contain_text("Entregamos no centro de segunda a sábado.")
        page.screenshot(path=str(SCREENSHOTS / "ai-activity-drawer-1280.png"))
        drawer.locator("[data-drawer-close]").click()
        expect(drawer).to_be_hidden()

        # the inbox: "Why this answer?" and "Summarize conversation" open the side drawer
        page.goto(shell_server + f"/inbox/c/{made['conversation']}/")
        page.wait_for_selector('#inbox[data-socket="open"]', state="attached", timeout=LIVE)
        page.get_by_test_id("why-answer").click()
        inbox_drawer = page.get_by_test_id("inbox-drawer")
        expect(inbox_drawer.get_by_test_id("decision-detail")).to_be_visible(timeout=LIVE)
        assert page.url.endswith(f"/inbox/c/{made['conversation']}/")  # no new page on a wide screen
        page.keyboard.press("Escape")
        expect(inbox_drawer).to_be_hidden()
        page.get_by_test_id("summarize").click()
        expect(inbox_drawer.get_by_test_id("conversation-summary")).to_be_visible(timeout=LIVE)
        expect(inbox_drawer).to_contain_text("entregam no centro")
        page.screenshot(path=str(SCREENSHOTS / "inbox-summary-1280.png"))

        # a model provider: the Test button answers in place, with the provider's own error
        with FakeOpenAI() as fake:
            made["provider"] = db_thread(_provider, fake.base_url)
            page.goto(shell_server + "/ai/providers/")
            card = page.locator(f"#provider-{made['provider']}")
            expect(card.get_by_test_id("masked-key")).to_contain_text("••••••••")
            card.get_by_test_id("test-provider").click()
            result = card.get_by_test_id("test-result")  # in the card htmx swapped in
            expect(result).to_have_attribute("data-ok", "0", timeout=LIVE)
            expect(result).to_contain_text("Incorrect API key provided")
            expect(card.get_by_test_id("provider-status-error")).to_be_visible()
            assert WRONG_KEY not in page.content()
            page.screenshot(path=str(SCREENSHOTS / "providers-test-1280.png"))
            assert len(fake.chat_requests()) == 1
        context.close()

        # a phone: nothing scrolls sideways
        phone = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
        mobile = phone.new_page()
        _watch(mobile, problems)
        _sign_in(mobile, shell_server, *demo_admin)
        for name, path in (("list", "/ai/"), ("form", f"/ai/{state['pk']}/"), ("providers", "/ai/providers/"),
                           ("provider-new", "/ai/providers/new/"), ("activity", "/ai/activity/"),
                           ("usage", "/ai/usage/"), ("decision", f"/ai/activity/{made['decision']}/")):
            mobile.goto(shell_server + path)
            _no_horizontal_scroll(mobile)
            mobile.screenshot(path=str(SCREENSHOTS / f"assistants-{name}-375.png"), full_page=True)
        mobile.goto(shell_server + f"/inbox/c/{made['conversation']}/")
        mobile.get_by_test_id("why-answer").tap()
        expect(mobile.get_by_test_id("inbox-drawer").get_by_test_id("decision-detail")).to_be_visible(timeout=LIVE)
        _no_horizontal_scroll(mobile)
        mobile.screenshot(path=str(SCREENSHOTS / "inbox-why-375.png"))
        phone.close()
    finally:
        db_thread(_drop_conversation, made)
        db_thread(_restore, state)
    assert not problems, problems
