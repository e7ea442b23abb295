"""The inbox in a real browser against a live uvicorn: two agents (two browser contexts) watch a
sandbox customer's message arrive live, one answers and the other sees the answer; a page whose
socket was down catches up on what it missed; then the phone layout: list -> chat -> back."""
from __future__ import annotations

import re
import uuid

import pytest
from django.db import connection

from .conftest import SCREENSHOTS
from .helpers import watch as _watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

DEMO_AGENT = ("agente@3afrios.com.br", "demo12345")
LIVE = 15_000  # ms: generous, the events arrive in well under a second


def _sign_in(browser, base: str, email: str, password: str, **context_options):
    context = browser.new_context(**context_options)
    page = context.new_page()
    page.goto(base + "/accounts/login/?next=/inbox/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")
    assert page.url.endswith("/inbox/"), page.url
    return context, page


def _wait_socket(page) -> None:
    page.wait_for_selector('#inbox[data-socket="open"]', state="attached", timeout=LIVE)


def _sandbox_connection() -> tuple[int, bool]:
    from django_tenants.utils import schema_context

    from apps.whatsapp.models import Connection
    from apps.whatsapp.services.connections import connection_create

    with schema_context("3afrios"):
        conn = Connection.objects.filter(provider="sandbox").order_by("pk").first()
        if conn is not None:
            return conn.pk, False
        return connection_create(name="Sandbox", provider="sandbox").pk, True


def _customer_writes(conn_id: int, name: str, phone: str, text: str) -> list[int]:
    from django_tenants.utils import schema_context

    from apps.whatsapp.models import Connection
    from apps.whatsapp.services.ingest import process_event
    from apps.whatsapp.services.simulator import simulator_send

    with schema_context("3afrios"):
        new = simulator_send(Connection.objects.get(pk=conn_id), name=name, phone=phone, text=text)
        for event_id in new:
            process_event(event_id)  # what the worker does; the inbox hears it from here
    return new


def _clean_up(conn_id: int, made: bool, phone: str, events: list[int]) -> None:
    from django_tenants.utils import schema_context

    from apps.crm.selectors import contact_by_identifier
    from apps.inbox.models import Conversation
    from apps.whatsapp.models import Connection, InboundEvent
    from apps.whatsapp.services.connections import connection_delete_row

    with schema_context("3afrios"):
        contact = contact_by_identifier(phone=phone)
        if contact is not None:
            Conversation.objects.filter(contact=contact).delete()
            contact.delete()
        InboundEvent.objects.filter(pk__in=events).delete()
        if made:
            connection_delete_row(Connection.objects.get(pk=conn_id))


@pytest.fixture
def customer(shell_server, django_db_blocker):
    """A sandbox customer of the demo tenant who writes through the real pipeline: the message is
    stored as an InboundEvent and processed, committed, so the server and its sockets see it. The
    database work runs in its own thread: Playwright's loop runs in this one."""
    from apps.notifications.tests.realtime import in_fresh_thread

    tag = uuid.uuid4().hex[:6]
    phone = f"+55119{int(tag, 16) % 10**8:08d}"
    name = f"Cliente {tag}"
    events: list[int] = []
    with django_db_blocker.unblock():
        conn_id, made = in_fresh_thread(_sandbox_connection)

        def write(text: str) -> None:
            new = in_fresh_thread(_customer_writes, conn_id, name, phone, text)
            assert new, "the sandbox message was not stored"
            events.extend(new)

        write.name = name
        write.phone = phone
        try:
            yield write
        finally:
            in_fresh_thread(_clean_up, conn_id, made, phone, events)
            connection.set_schema_to_public()


def _canned(create: bool) -> None:
    from django_tenants.utils import schema_context

    from apps.inbox.models import CannedReply

    with schema_context("3afrios"):
        CannedReply.objects.filter(shortcut="preco-queijo").delete()
        if create:
            CannedReply.objects.create(shortcut="preco-queijo", title="Preço do queijo",
                                       text="Temos sim, {{contact.name}}! R$ 49,90 o quilo.")


@pytest.fixture
def canned_reply(shell_server, django_db_blocker):
    from apps.notifications.tests.realtime import in_fresh_thread

    with django_db_blocker.unblock():
        in_fresh_thread(_canned, True)
        try:
            yield "preco-queijo"
        finally:
            in_fresh_thread(_canned, False)


def test_two_agents_see_the_conversation_live_and_the_phone_layout(shell_server, demo_admin, canned_reply, customer,
                                                                    browser):
    from playwright.sync_api import expect

    problems: list[str] = []
    admin_ctx, admin = _sign_in(browser, shell_server, *demo_admin, viewport={"width": 1440, "height": 900})
    agent_ctx, agent = _sign_in(browser, shell_server, *DEMO_AGENT, viewport={"width": 1280, "height": 800})
    for page in (admin, agent):
        _watch(page, problems)
        _wait_socket(page)

    # 1. a customer writes: the conversation appears at the top of both lists, live
    customer("Olá! Vocês têm queijo minas frescal?")
    for page in (admin, agent):
        row = page.locator("[data-conversation-row]").first
        expect(row).to_contain_text(customer.name, timeout=LIVE)
        expect(row).to_contain_text("queijo minas frescal")
        expect(row.locator("[data-unread]")).to_have_text("1")

    # 2. both open it; the customer writes again and both chats show the bubble
    for page in (admin, agent):
        page.locator("[data-conversation-row]").first.locator("a").click()
        expect(page.get_by_test_id("chat")).to_contain_text("queijo minas frescal")
        expect(page.locator("[data-chat-name]")).to_have_text(customer.name)
    assert re.search(r"/inbox/c/\d+/", admin.url)
    customer("E qual o preço do quilo?")
    for page in (admin, agent):
        expect(page.locator('#chat-messages [data-direction="in"]').last).to_contain_text("preço do quilo",
                                                                                         timeout=LIVE)

    # 3. the admin answers with a canned reply ("/" popup, variables filled in on the server) and
    # Enter; the agent sees the answer live
    composer = admin.get_by_test_id("composer-text")
    composer.press_sequentially("/preco")
    popup = admin.get_by_test_id("canned-popup")
    expect(popup).to_be_visible()
    expect(popup.get_by_role("option").first).to_contain_text("/preco-queijo")
    composer.press("Enter")  # picks the reply
    expect(composer).to_have_value("Temos sim, {{contact.name}}! R$ 49,90 o quilo.")
    expect(popup).to_be_hidden()
    composer.press("Enter")  # sends
    answer = f"Temos sim, {customer.name}! R$ 49,90 o quilo."
    expect(admin.locator('#chat-messages [data-direction="out"][data-sender="human"]').last).to_contain_text(answer)
    expect(composer).to_have_value("")
    expect(agent.locator('#chat-messages [data-direction="out"][data-sender="human"]').last).to_contain_text(
        answer, timeout=LIVE)
    expect(agent.locator('#chat-messages [data-sender="human"]').last).to_contain_text("Ana Admin")
    # Shift+Enter is a new line, not a send
    composer.press("Shift+Enter")
    expect(admin.locator('#chat-messages [data-sender="human"]')).to_have_count(1)
    composer.fill("")
    admin.screenshot(path=str(SCREENSHOTS / "inbox-1440.png"))

    # 4. the agent's socket is down while the customer writes: on reconnect the page catches up
    agent.evaluate("window.inboxDebug.disconnect(true)")
    expect(agent.locator("[data-offline-badge]")).to_be_visible()
    customer("Pode entregar hoje à tarde?")
    expect(admin.locator('#chat-messages [data-direction="in"]').last).to_contain_text("entregar hoje",
                                                                                      timeout=LIVE)
    expect(agent.locator("#chat-messages")).not_to_contain_text("entregar hoje")
    agent.evaluate("window.inboxDebug.connect()")
    expect(agent.locator('#chat-messages [data-direction="in"]').last).to_contain_text("entregar hoje",
                                                                                      timeout=LIVE)
    expect(agent.locator("[data-offline-badge]")).to_be_hidden()

    # 5. the agent takes it from the contact panel (a drawer at 1280 px, beside the chat at 1440 px);
    # the admin's list shows the new owner
    expect(admin.get_by_test_id("contact-panel")).to_be_in_viewport()
    expect(admin.get_by_test_id("open-panel")).to_be_hidden()
    agent.get_by_test_id("open-panel").click()
    agent.get_by_test_id("assign-me").click()
    expect(agent.get_by_test_id("assignment")).to_contain_text("Bruno Agente")
    expect(admin.locator("[data-conversation-row]").first).to_contain_text("Bruno", timeout=LIVE)
    expect(admin.locator("#chat-messages")).to_contain_text("Bruno Agente", timeout=LIVE)  # the system line
    agent_state = agent_ctx.storage_state()
    admin_ctx.close()
    agent_ctx.close()

    # 6. a phone: the list first, then the chat full screen, then back to the list
    phone = browser.new_context(viewport={"width": 375, "height": 740}, storage_state=agent_state,
                                is_mobile=True, has_touch=True)
    mobile = phone.new_page()
    _watch(mobile, problems)
    mobile.goto(shell_server + "/inbox/")
    lst = mobile.get_by_test_id("conversation-list")
    expect(lst).to_be_in_viewport()
    row_link = mobile.locator("[data-conversation-row]").first.locator("a")
    expect(row_link).to_contain_text(customer.name)
    box = row_link.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 300, box
    mobile.screenshot(path=str(SCREENSHOTS / "inbox-375-list.png"))
    row_link.click()
    chat = mobile.get_by_test_id("chat")
    expect(chat).to_be_visible()
    expect(lst).not_to_be_visible()
    back = mobile.get_by_test_id("chat-back")
    expect(back).to_be_visible()
    back_box = back.bounding_box()
    assert back_box["width"] >= 44 and back_box["height"] >= 44, back_box
    send_box = mobile.get_by_test_id("composer-send").bounding_box()
    assert send_box["width"] >= 44 and send_box["height"] >= 44, send_box
    # the whole chat fits the phone's width (nothing scrolls sideways)
    assert mobile.evaluate("document.documentElement.scrollWidth") <= 375
    # the contact panel is a drawer
    panel = mobile.get_by_test_id("contact-panel")
    expect(panel).not_to_be_in_viewport()
    mobile.get_by_test_id("open-panel").click()
    expect(panel).to_be_in_viewport()
    mobile.wait_for_timeout(250)  # the slide-in, for the screenshot
    mobile.screenshot(path=str(SCREENSHOTS / "inbox-375-panel.png"))
    mobile.keyboard.press("Escape")
    expect(panel).not_to_be_in_viewport()
    mobile.screenshot(path=str(SCREENSHOTS / "inbox-375-chat.png"))
    back.click()
    expect(lst).to_be_visible()
    expect(chat).not_to_be_visible()
    assert mobile.url.endswith("/inbox/")
    # the browser's own back button returns to the chat
    mobile.go_back()
    expect(mobile.get_by_test_id("chat")).to_be_visible()
    phone.close()
    assert not problems, problems
