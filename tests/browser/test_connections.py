"""Connections and the Sandbox simulator in a real browser, on a desktop and on a phone: the page
renders with the demo's sandbox, adding (and deleting) a sandbox number works, and a message typed
in the simulator shows up in its chat."""
from __future__ import annotations

import re
import secrets

import pytest

from .conftest import SCREENSHOTS
from .helpers import no_horizontal_scroll as _no_horizontal_scroll
from .helpers import sign_in as _sign_in
from .helpers import watch as _watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


@pytest.mark.parametrize("width,height", [(1280, 800), (375, 812)])
def test_connections_and_simulator(shell_server, demo_admin, browser, width, height):
    from playwright.sync_api import expect

    problems: list[str] = []
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    _watch(page, problems)
    _sign_in(page, shell_server, *demo_admin)

    # the page, with the demo's sandbox number
    page.goto(shell_server + "/whatsapp/connections/")
    demo_card = page.locator("[data-testid=connection-card][data-provider=sandbox]", has_text="Simulador")
    expect(demo_card).to_be_visible()
    expect(demo_card.get_by_test_id("status-badge")).to_have_class(re.compile(r"\bbadge-success\b"))
    _no_horizontal_scroll(page)
    page.screenshot(path=str(SCREENSHOTS / f"connections-{width}.png"), full_page=True)

    # add a sandbox number
    name = f"Balcão {secrets.token_hex(2)}"
    page.get_by_test_id("add-connection").click()
    form = page.locator("#add-connection")
    expect(form).to_be_visible()
    form.locator("input[name=provider][value=sandbox]").check()
    expect(page.get_by_test_id("cloud-fields")).to_be_hidden()
    form.locator("input[name=name]").fill(name)
    with page.expect_navigation():
        page.get_by_test_id("add-submit").click()
    card = page.locator("[data-testid=connection-card]", has_text=name)
    expect(card).to_be_visible()
    expect(card).to_have_attribute("data-status", "connected")
    expect(page.locator("#messages .alert-success")).to_be_visible()
    _no_horizontal_scroll(page)

    # the simulator: a typed message appears in the chat
    with page.expect_navigation():
        card.get_by_test_id("open-simulator").click()
    expect(page.locator("select[name=connection] option:checked")).to_have_text(name)
    expect(page.locator("input[name=phone]")).not_to_have_value("")
    text = f"Oi, tem queijo? {secrets.token_hex(3)}"
    page.get_by_test_id("sim-text").fill(text)
    page.get_by_test_id("sim-text").press("Enter")
    bubble = page.get_by_test_id("sim-transcript").locator("[data-side=customer]", has_text=text)
    expect(bubble).to_be_visible(timeout=10_000)
    expect(page.get_by_test_id("sim-text")).to_have_value("")
    # an empty message is refused with a message, nothing sent
    page.get_by_test_id("sim-send").click()
    expect(page.get_by_test_id("sim-errors").locator(".field-error")).to_be_visible()
    _no_horizontal_scroll(page)
    page.screenshot(path=str(SCREENSHOTS / f"simulator-{width}.png"), full_page=True)

    # the customer is remembered in this browser
    phone = page.locator("input[name=phone]").input_value()
    page.reload()
    expect(page.locator("input[name=phone]")).to_have_value(phone)
    expect(page.get_by_test_id("sim-transcript").locator("[data-side=customer]", has_text=text)).to_be_visible()

    # delete the number again, with the confirmation
    page.goto(shell_server + "/whatsapp/connections/")
    card = page.locator("[data-testid=connection-card]", has_text=name)
    card.get_by_test_id("delete").click()
    with page.expect_navigation():
        card.get_by_test_id("confirm-delete").click()
    expect(page.locator("[data-testid=connection-card]", has_text=name)).to_have_count(0)
    expect(demo_card).to_be_visible()

    assert not problems, problems
    context.close()


def _in_demo(fn, *args):
    """Committed work in the demo tenant (a fresh thread: autocommit, visible to the live server)."""
    from django_tenants.utils import schema_context

    from apps.notifications.tests.realtime import in_fresh_thread

    def run():
        with schema_context("3afrios"):
            return fn(*args)

    return in_fresh_thread(run)


def test_qr_dialog_refreshes_and_closes_itself_on_connect(shell_server, demo_admin, browser):
    """The QR follows qrcode updates and the dialog closes when the number connects, pushed over
    the inbox socket (the events are published by the service, as the pipeline does)."""
    from playwright.sync_api import expect

    from apps.whatsapp.models import Provider
    from apps.whatsapp.providers.base import ConnectionUpdate
    from apps.whatsapp.services import connections as services

    name = f"Loja QR {secrets.token_hex(2)}"

    def create():
        conn = services.connection_create(name=name, provider=Provider.EVOLUTION)
        return services.connection_apply_update(conn, ConnectionUpdate(status="awaiting_qr", qr_code="2@first,code"))

    conn = _in_demo(create)
    problems: list[str] = []
    context = browser.new_context(viewport={"width": 375, "height": 812})
    page = context.new_page()
    _watch(page, problems)
    try:
        _sign_in(page, shell_server, *demo_admin)
        page.goto(f"{shell_server}/whatsapp/connections/?pair={conn.pk}")
        dialog = page.locator("#qr-dialog")
        expect(dialog).to_be_visible()
        image = dialog.get_by_test_id("qr-image")
        expect(image).to_be_visible()
        first = image.get_attribute("src")
        page.wait_for_function("() => window.connectionsPage && window.connectionsPage.live()")  # socket up
        page.screenshot(path=str(SCREENSHOTS / "connections-qr-375.png"))

        _in_demo(lambda: services.connection_apply_update(conn, ConnectionUpdate(status="awaiting_qr",
                                                                                 qr_code="2@second,code")))
        expect(image).not_to_have_attribute("src", first, timeout=10_000)

        _in_demo(lambda: services.connection_apply_update(conn, ConnectionUpdate(status="connected",
                                                                                 phone="+5511988887777")))
        expect(dialog.locator("[data-qr-connected]")).to_contain_text("+5511988887777", timeout=10_000)
        expect(dialog).to_be_hidden(timeout=10_000)
        card = page.locator(f"#connection-{conn.pk}")
        expect(card).to_have_attribute("data-status", "connected")
        expect(card.get_by_test_id("phone")).to_have_text("+5511988887777")
        assert not problems, problems
    finally:
        context.close()
        _in_demo(lambda: services.connection_delete_row(conn))


def test_cloud_api_test_button_shows_the_result_and_the_providers_error(shell_server, demo_admin, browser):
    from playwright.sync_api import expect

    from apps.whatsapp.models import Provider
    from apps.whatsapp.services import connections as services
    from tests.fakes import cloud_api as fake_cloud

    name = f"Oficial {secrets.token_hex(2)}"
    with fake_cloud.FakeGraphApi() as graph:
        conn = _in_demo(lambda: services.connection_create(
            name=name, provider=Provider.CLOUD_API, instance_name=fake_cloud.PHONE_NUMBER_ID,
            config={"graph_url": graph.url, "graph_version": graph.version, "waba_id": fake_cloud.WABA_ID},
            credentials={"access_token": fake_cloud.ACCESS_TOKEN, "app_secret": fake_cloud.APP_SECRET,
                         "verify_token": "verify-me-123"}))
        problems: list[str] = []
        context = browser.new_context(viewport={"width": 375, "height": 812})
        page = context.new_page()
        _watch(page, problems)
        try:
            _sign_in(page, shell_server, *demo_admin)
            page.goto(shell_server + "/whatsapp/connections/")
            page.wait_for_function("() => window.connectionsPage && window.connectionsPage.live()")
            card = page.locator(f"#connection-{conn.pk}")
            expect(card.get_by_test_id("verify-token")).to_have_value("verify-me-123")
            expect(card.get_by_test_id("masked-token")).not_to_contain_text(fake_cloud.ACCESS_TOKEN)
            card.get_by_test_id("test-credentials").click()
            result = page.locator(f"#connection-{conn.pk} [data-testid=test-result]")
            # a real call to the fake Graph API through the server: slow when the 2 CI cores are busy
            expect(result).to_contain_text("Alpha Frios", timeout=15_000)
            expect(result).to_have_class(re.compile(r"alert-success"))
            # the status event re-reads the card: it turns connected and keeps the answer on screen
            expect(page.locator(f"#connection-{conn.pk}")).to_have_attribute("data-status", "connected")
            expect(result).to_contain_text("Alpha Frios")

            graph.access_token = "another-token"  # Meta no longer accepts ours
            page.locator(f"#connection-{conn.pk}").get_by_test_id("test-credentials").click()
            expect(result).to_have_class(re.compile(r"alert-error"), timeout=15_000)
            expect(page.locator(f"#connection-{conn.pk}")).to_have_attribute("data-status", "error")
            expect(page.locator(f"#connection-{conn.pk} [data-testid=connection-error]")).to_be_visible()
            page.screenshot(path=str(SCREENSHOTS / "connections-cloud-test-375.png"), full_page=True)
            assert not problems, problems
        finally:
            context.close()
            _in_demo(lambda: services.connection_delete_row(conn))
