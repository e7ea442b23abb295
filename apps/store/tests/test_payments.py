"""Pix through Mercado Pago: the charge and its messages, idempotency, provider failures, and the
webhook (signature, re-reading the payment, paid exactly once, isolation between tenants).

Mercado Pago is ``tests/fakes/mercadopago.py`` on 127.0.0.1 (real wire format); the webhook is
posted through Django's test client on the tenant's own host."""
from __future__ import annotations

import base64
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.inbox.tests.helpers_inbox import make_connection, make_conversation
from conftest import host_of, make_user
from tests.fakes.mercadopago import ACCESS_TOKEN, WEBHOOK_SECRET, FakeMercadoPago, webhook_request

from .conftest import D, make_customer, make_product, store_settings_set

pytestmark = pytest.mark.usefixtures("english")

HOOK = "/hooks/mercadopago/"


@pytest.fixture
def mp(settings):
    fake = FakeMercadoPago().start()
    settings.MERCADOPAGO_API_URL = fake.url
    settings.MERCADOPAGO_HTTP_TIMEOUT = 2
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def english_customers(tenant, other_tenant):
    """Customer texts follow the tenant's language: English here, so the tests read the msgids."""
    from tenants.models import Tenant

    Tenant.objects.filter(pk__in=[tenant.pk, other_tenant.pk]).update(language="en")


def configure(token=ACCESS_TOKEN, secret=WEBHOOK_SECRET):
    return store_settings_set(mercadopago_access_token=token, mercadopago_webhook_secret=secret,
                              pix_expiration_minutes=30)


def whatsapp_order(*, stock="10", quantity="2", price="12.50", method="pix", **conversation_fields):
    """A WhatsApp order placed through the real path: cart in a conversation, Pix, placed."""
    from apps.store.services.orders import cart_add_item, cart_for, order_place, order_set_payment_method

    contact = make_customer("Maria Souza")
    conversation = make_conversation(connection=make_connection(), contact=contact, **conversation_fields)
    product = make_product("Queijo Minas", price=price, stock=stock)
    cart = cart_for(contact=contact, conversation=conversation)
    cart_add_item(cart, product=product, quantity=D(quantity))
    order_set_payment_method(cart, method=method)
    order = order_place(cart, by_ai=True)
    order.refresh_from_db()
    return order, conversation, product


def outbound(conversation):
    from apps.inbox.models import Message

    return list(Message.objects.filter(conversation=conversation, direction="out").exclude(type="event")
                .order_by("created_at", "id"))


def post_hook(host: str, hook, *, headers: dict | None = None, query: str | None = None):
    client = Client(HTTP_HOST=host)
    return client.post(f"{HOOK}?{hook.query if query is None else query}", data=hook.body,
                       content_type="application/json", **(hook.django_headers() if headers is None else headers))


# --- creating the charge ---------------------------------------------------------------------------


def test_pix_created_stores_payment_and_sends_qr_and_code(alpha, mp):
    from apps.store.models import OrderEvent, Payment
    from apps.store.services.payments import pix_for_order

    configure()
    order, conversation, _product = whatsapp_order(quantity="3", price="12.35")
    assert order.total == Decimal("37.05")

    payment = pix_for_order(order)

    [call] = mp.calls("POST", "/v1/payments")
    assert call.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert call.headers["x-idempotency-key"] == payment.idempotency_key
    body = json.loads(call.body, parse_float=Decimal)
    assert body["payment_method_id"] == "pix"
    assert body["transaction_amount"] == Decimal("37.05")  # written as its decimal text, never a float
    assert b'"transaction_amount": 37.05' in call.body
    assert body["external_reference"] == f"alpha:{order.pk}"
    assert "@" in body["payer"]["email"] and body["payer"]["first_name"] == "Maria"
    assert "date_of_expiration" in body

    remote = mp.payments[payment.external_id]
    stored = Payment.objects.get(order=order)
    assert stored.pk == payment.pk
    assert stored.amount == Decimal("37.05") and stored.status == "pending"
    assert stored.qr_code == remote["point_of_interaction"]["transaction_data"]["qr_code"]
    assert stored.ticket_url.startswith("https://www.mercadopago.com.br/payments/")
    assert stored.expires_at is not None
    assert timedelta(minutes=29) < stored.expires_at - timezone.now() <= timedelta(minutes=30)

    image, code = outbound(conversation)[-2:]
    assert image.type == "image" and image.media_mime == "image/png"
    with image.media.open("rb") as fh:
        assert fh.read() == base64.b64decode(remote["point_of_interaction"]["transaction_data"]["qr_code_base64"])
    assert f"#{order.number}" in image.text and "R$37.05" in image.text
    assert image.sender_kind == "ai"  # the assistant placed the order
    assert code.type == "text" and code.text == stored.qr_code
    assert image.status == code.status == "queued"

    assert OrderEvent.objects.filter(order=order, kind="payment").count() == 1
    order.refresh_from_db()
    assert order.cart_cancel_due_at == stored.expires_at + timedelta(minutes=5)  # the unpaid-Pix cancellation


def test_same_order_twice_is_one_charge(alpha, mp):
    from apps.store.models import Payment
    from apps.store.services.payments import pix_for_order

    configure()
    order, conversation, _product = whatsapp_order()
    first = pix_for_order(order)
    again = pix_for_order(order)

    assert again.pk == first.pk
    assert len(mp.calls("POST", "/v1/payments")) == 1
    assert len(mp.payments) == 1
    assert Payment.objects.filter(order=order).count() == 1
    assert len(outbound(conversation)) == 2  # the QR and the code, sent once


def test_answer_lost_then_retried_gets_the_same_charge(alpha, mp, settings):
    """The payment was created but our side timed out: no half state here, and the retry sends the
    same idempotency key, so Mercado Pago gives back that payment instead of charging twice."""
    from apps.store.errors import StoreError
    from apps.store.models import Payment
    from apps.store.services.payments import pix_for_order

    configure()
    order, conversation, _product = whatsapp_order()
    settings.MERCADOPAGO_HTTP_TIMEOUT = 0.3
    mp.slow_next(delay=0.8)
    with pytest.raises(StoreError) as caught:
        pix_for_order(order)
    assert caught.value.code == "payment_unavailable"
    assert caught.value.params["reason"] == "temporary"
    assert len(mp.payments) == 1  # Mercado Pago has it...
    assert not Payment.objects.filter(order=order).exists()  # ...we stored nothing
    assert outbound(conversation) == []

    settings.MERCADOPAGO_HTTP_TIMEOUT = 2
    payment = pix_for_order(order)
    first, second = mp.calls("POST", "/v1/payments")
    assert first.headers["x-idempotency-key"] == second.headers["x-idempotency-key"]
    assert len(mp.payments) == 1
    assert payment.external_id == next(iter(mp.payments))
    assert len(outbound(conversation)) == 2


@pytest.mark.parametrize("status, reason, words", [
    (401, "auth", "access token"),
    (500, "temporary", "did not answer"),
    (400, "rejected", "refused the Pix charge"),
])
def test_provider_errors_are_clear_and_leave_nothing(alpha, mp, status, reason, words):
    from apps.store.errors import StoreError
    from apps.store.models import Order, OrderEvent, Payment
    from apps.store.services.payments import pix_for_order

    if status == 401:
        configure(token="APP_USR-wrong-token")
    else:
        configure()
        mp.fail_next(status=status, body={"message": "payer.email must be a valid email", "error": "bad_request",
                                          "status": 400, "cause": []} if status == 400 else None)
    order, conversation, _product = whatsapp_order()
    before = Order.objects.values().get(pk=order.pk)

    with pytest.raises(StoreError) as caught:
        pix_for_order(order)

    assert caught.value.code == "payment_unavailable"
    assert caught.value.params["reason"] == reason
    message = caught.value.messages[0]
    assert words in message
    assert "APP_USR" not in message  # the token is never shown
    if status == 400:
        assert "payer.email must be a valid email" in message
    assert not Payment.objects.exists()
    assert outbound(conversation) == []
    assert not OrderEvent.objects.filter(order=order, kind="payment").exists()
    assert Order.objects.values().get(pk=order.pk) == before


def test_no_access_token_is_pix_unavailable(alpha, mp):
    from apps.store.errors import StoreError
    from apps.store.models import Payment
    from apps.store.services.payments import pix_for_order

    store_settings_set(mercadopago_access_token="")
    order, conversation, _product = whatsapp_order()
    with pytest.raises(StoreError) as caught:
        pix_for_order(order)
    assert caught.value.code == "payment_unavailable"
    assert caught.value.params["reason"] == "not_configured"
    assert "Pix is unavailable" in caught.value.messages[0]
    assert mp.requests == []
    assert not Payment.objects.exists() and outbound(conversation) == []


def test_only_placed_unpaid_pix_orders_are_charged(alpha, mp):
    from apps.store.errors import StoreError
    from apps.store.services.orders import order_cancel, order_mark_paid
    from apps.store.services.payments import pix_for_order

    configure()
    cash, _c, _p = whatsapp_order(method="cash")
    paid, _c, _p = whatsapp_order()
    order_mark_paid(paid)
    canceled, _c, _p = whatsapp_order()
    order_cancel(canceled, reason="changed mind")
    for order, code in ((cash, "payment_method_invalid"), (paid, "invalid_transition"),
                        (canceled, "invalid_transition")):
        with pytest.raises(StoreError) as caught:
            pix_for_order(order)
        assert caught.value.code == code
    assert mp.requests == []


# --- the webhook ---------------------------------------------------------------------------------


def _paid_setup(tenant, mp, **conversation_fields):
    from apps.store.services.payments import pix_for_order

    with schema_context(tenant.schema_name):
        configure()
        order, conversation, product = whatsapp_order(**conversation_fields)
        payment = pix_for_order(order)
    return order, conversation, payment


def _state(order, payment):
    from apps.store.models import Order, Payment

    return Order.objects.values("payment_status", "paid_at", "status").get(pk=order.pk), \
        Payment.objects.values("status", "paid_at").get(pk=payment.pk)


def test_webhook_bad_or_missing_signature_is_rejected_and_changes_nothing(tenant, mp):
    order, conversation, payment = _paid_setup(tenant, mp)
    mp.approve(payment.external_id)
    with schema_context("alpha"):
        before = _state(order, payment)
        messages_before = len(outbound(conversation))

    wrong_secret = webhook_request(payment.external_id, secret="not-the-secret")
    assert post_hook(host_of(tenant), wrong_secret).status_code == 401

    good = webhook_request(payment.external_id)
    assert post_hook(host_of(tenant), good, headers={"HTTP_X_REQUEST_ID": "abc"}).status_code == 400  # no signature
    # the signature covers data.id: moving it to another payment breaks it
    other = webhook_request("1319999999")
    assert post_hook(host_of(tenant), good, query=other.query).status_code == 401
    # the signature covers x-request-id too
    assert post_hook(host_of(tenant), good, headers={**good.django_headers(),
                                                     "HTTP_X_REQUEST_ID": "another-request"}).status_code == 401
    assert Client(HTTP_HOST=host_of(tenant)).post(f"{HOOK}?{good.query}", data=b"not json",
                                                  content_type="application/json").status_code == 400

    assert mp.calls("GET") == []  # nothing was asked, nothing trusted
    with schema_context("alpha"):
        assert _state(order, payment) == before
        assert before[0]["payment_status"] == "pending"
        assert len(outbound(conversation)) == messages_before


def test_webhook_approved_marks_paid_once_and_tells_customer_and_staff(tenant, mp):
    from apps.notifications.models import Notification
    from apps.store.models import OrderEvent

    agent = make_user(tenant, email="vendas@alpha.test", role="agent")
    analyst = make_user(tenant, email="numeros@alpha.test", role="analyst")
    order, conversation, payment = _paid_setup(tenant, mp)
    mp.approve(payment.external_id)

    first = post_hook(host_of(tenant), webhook_request(payment.external_id))
    assert first.status_code == 200, first.content
    assert first.json() == {"received": True, "outcome": "applied"}
    again = post_hook(host_of(tenant), webhook_request(payment.external_id))  # Mercado Pago delivers it again
    assert again.status_code == 200

    assert len(mp.calls("GET", f"/v1/payments/{payment.external_id}")) == 2  # read back every time
    with schema_context("alpha"):
        (order_state, payment_state) = _state(order, payment)
        assert order_state["payment_status"] == "paid" and order_state["paid_at"] is not None
        assert payment_state["status"] == "approved" and payment_state["paid_at"] is not None
        assert OrderEvent.objects.filter(order=order, kind="payment").count() == 2  # Pix created, Pix paid
        told = [m for m in outbound(conversation) if (m.payload or {}).get("event") == "pix_paid"]
        assert len(told) == 1
        assert "Payment received" in told[0].text and f"#{order.number}" in told[0].text
        notes = Notification.objects.filter(kind="store.payment")
        assert sorted(n.recipient.email for n in notes) == ["owner@alpha.test", "vendas@alpha.test"]
        assert all(f"#{order.number}" in n.title and n.link.endswith(f"?order={order.pk}") for n in notes)
        assert not Notification.objects.filter(recipient=analyst).exists()
        assert agent.pk in {n.recipient_id for n in notes}


def test_webhook_tells_the_conversation_assignee_only(tenant, mp):
    from apps.notifications.models import Notification

    seller = make_user(tenant, email="ana@alpha.test", role="agent")
    make_user(tenant, email="bia@alpha.test", role="agent")
    with schema_context("alpha"):
        order, conversation, payment = _paid_setup(tenant, mp, assignee=seller)
    mp.approve(payment.external_id)
    assert post_hook(host_of(tenant), webhook_request(payment.external_id)).status_code == 200
    with schema_context("alpha"):
        assert [n.recipient_id for n in Notification.objects.filter(kind="store.payment")] == [seller.pk]


def test_webhook_of_a_pending_payment_changes_nothing_whatever_the_body_says(tenant, mp):
    order, conversation, payment = _paid_setup(tenant, mp)
    hook = webhook_request(payment.external_id, body={"action": "payment.updated", "type": "payment",
                                                      "data": {"id": payment.external_id, "status": "approved"},
                                                      "status": "approved"})
    response = post_hook(host_of(tenant), hook)
    assert response.status_code == 200
    with schema_context("alpha"):
        order_state, payment_state = _state(order, payment)
        assert order_state["payment_status"] == "pending" and payment_state["status"] == "pending"
        assert not [m for m in outbound(conversation) if (m.payload or {}).get("event") == "pix_paid"]


def test_webhook_when_mercadopago_is_down_asks_for_a_retry(tenant, mp):
    order, conversation, payment = _paid_setup(tenant, mp)
    mp.approve(payment.external_id)
    mp.fail_next(status=503)
    assert post_hook(host_of(tenant), webhook_request(payment.external_id)).status_code == 503
    with schema_context("alpha"):
        assert _state(order, payment)[0]["payment_status"] == "pending"
    assert post_hook(host_of(tenant), webhook_request(payment.external_id)).status_code == 200
    with schema_context("alpha"):
        assert _state(order, payment)[0]["payment_status"] == "paid"


def test_webhook_for_an_unknown_payment_is_acknowledged_and_ignored(tenant, mp):
    with schema_context("alpha"):
        configure()
    response = post_hook(host_of(tenant), webhook_request("1319555555"))
    assert response.status_code == 200 and response.json()["outcome"] == "ignored"
    assert mp.calls("GET") == []


def test_paid_after_cancel_is_recorded_and_staff_asked_to_decide(tenant, mp):
    from apps.notifications.models import Notification
    from apps.store.services.orders import order_cancel

    order, conversation, payment = _paid_setup(tenant, mp)
    with schema_context("alpha"):
        order_cancel(order, reason="customer gave up")
    mp.approve(payment.external_id)
    assert post_hook(host_of(tenant), webhook_request(payment.external_id)).status_code == 200
    with schema_context("alpha"):
        order_state, payment_state = _state(order, payment)
        assert order_state["status"] == "canceled" and order_state["payment_status"] == "paid"
        assert payment_state["status"] == "approved"
        [note] = Notification.objects.filter(kind="store.payment")
        assert "canceled" in note.title
        [told] = [m for m in outbound(conversation) if (m.payload or {}).get("event") == "pix_paid"]
        assert "had been canceled" in told.text


def test_webhook_isolation_alpha_cannot_mark_betas_order(tenant, other_tenant, mp):
    """Each store checks notifications with its own secret and reads payments with its own token."""
    beta_token = mp.add_account()
    beta_secret = "beta-webhook-secret-0000"
    with schema_context("alpha"):
        configure()
    with schema_context("beta"):
        from apps.store.services.payments import pix_for_order

        configure(token=beta_token, secret=beta_secret)
        order, conversation, payment = whatsapp_order()
        payment = pix_for_order(order)
    mp.approve(payment.external_id)

    # beta's payment announced on alpha's domain, signed with alpha's secret: not alpha's payment
    response = post_hook(host_of(tenant), webhook_request(payment.external_id))
    assert response.status_code == 200 and response.json()["outcome"] == "ignored"
    # beta's own signature is not valid on alpha's domain
    assert post_hook(host_of(tenant), webhook_request(payment.external_id, secret=beta_secret)).status_code == 401
    # alpha's signature is not valid on beta's domain
    assert post_hook(host_of(other_tenant), webhook_request(payment.external_id)).status_code == 401
    assert mp.calls("GET") == []
    with schema_context("beta"):
        assert _state(order, payment)[0]["payment_status"] == "pending"

    # beta's own notification, on beta's domain, works
    assert post_hook(host_of(other_tenant), webhook_request(payment.external_id, secret=beta_secret)).status_code == 200
    [read] = mp.calls("GET")
    assert read.headers["authorization"] == f"Bearer {beta_token}"
    with schema_context("beta"):
        assert _state(order, payment)[0]["payment_status"] == "paid"


def test_the_fake_reads_a_payment_only_for_its_account(mp):
    """The fake behaves like Mercado Pago: another account's payment is a 404 (the isolation above
    relies on it)."""
    from apps.store.payments.mercadopago import GatewayAuthError, GatewayNotFound, MercadoPagoClient

    ours = MercadoPagoClient(ACCESS_TOKEN)
    theirs = MercadoPagoClient(mp.add_account())
    charge = ours.create_pix(amount=Decimal("10.00"), description="x", external_reference="r",
                             idempotency_key="k-1", payer={"email": "a@b.com.br"})
    assert ours.get_payment(charge.id).id == charge.id
    with pytest.raises(GatewayNotFound):
        theirs.get_payment(charge.id)
    with pytest.raises(GatewayAuthError):
        MercadoPagoClient("wrong").get_payment(charge.id)


def test_signature_manifest_matches_the_documented_template():
    from apps.store.payments.mercadopago import signature_manifest, verify_signature

    assert signature_manifest(data_id="ORD01ABC", request_id="req-1", ts="1704908010") == \
        "id:ord01abc;request-id:req-1;ts:1704908010;"
    assert signature_manifest(data_id="123", request_id="", ts="1") == "id:123;ts:1;"
    hook = webhook_request("123456", request_id="req-1", ts="1704908010")
    assert verify_signature(secret=WEBHOOK_SECRET, signature=hook.headers["x-signature"], request_id="req-1",
                            data_id="123456")
    assert not verify_signature(secret=WEBHOOK_SECRET, signature="ts=1704908010", request_id="req-1",
                                data_id="123456")
    assert not verify_signature(secret="", signature=hook.headers["x-signature"], request_id="req-1",
                                data_id="123456")
