"""A whole order over WhatsApp, as production runs it: the customer's messages arrive, the real turn
calls the fake OpenAI server through the real SDK, the model (scripted) calls the ordering tools,
and Pix goes through the real Mercado Pago client to the fake Mercado Pago on 127.0.0.1.

Search -> two products -> delivery to a known neighbourhood -> Pix -> confirm: exactly one placed
order with the right items, fee and totals, its stock reserved, the summary with the order card
and the Pix QR code in the chat. Without Mercado Pago set up, the order still stands and the model
is told the Pix charge failed."""
from __future__ import annotations

import json

import pytest

from apps.agents.tests.conftest import (_fake_llm_server, ai_messages, customer_turn, fake_llm,  # noqa: F401
                                        last_decision, make_assistant, make_provider)
from apps.inbox.tests.helpers_inbox import make_contact, make_conversation
from tests.fakes.mercadopago import ACCESS_TOKEN, FakeMercadoPago
from tests.fakes.openai_server import Step, reply, tool_call

from .conftest import D, make_product, make_zone, store_settings_set

pytestmark = pytest.mark.usefixtures("english")

ORDER_TOOLS = ["search_products", "add_to_cart", "update_cart_item", "remove_from_cart", "view_cart",
               "set_delivery", "set_payment_method", "confirm_order", "order_status"]


def calls(*pairs) -> Step:
    """One model answer with several tool calls."""
    return Step(tool_calls=[(name, json.dumps(arguments)) for name, arguments in pairs])


def tool_results(request_body) -> list[dict]:
    return [json.loads(m["content"]) for m in request_body["messages"] if m["role"] == "tool"]


@pytest.fixture
def mercadopago(settings):
    with FakeMercadoPago() as fake:
        settings.MERCADOPAGO_API_URL = fake.url
        yield fake


@pytest.fixture
def shop(alpha, fake_llm):
    make_provider(fake_llm)
    make_assistant(enabled_tools=ORDER_TOOLS)
    make_zone("Centro", fee="7.00", min_order="30.00", estimated_minutes=40)
    return {
        "calabresa": make_product("Pizza Calabresa", price="59.90", cost="25.00", stock="20"),
        "margherita": make_product("Pizza Margherita", price="54.90", cost="22.00", stock="5"),
        "coke": make_product("Coca-Cola 2L", price="14.00", cost="8.00", stock="50"),
    }


@pytest.fixture
def conversation(alpha):
    return make_conversation(contact=make_contact("Joana Lima", phone="+5511987650201"))


def order_over_whatsapp(fake_llm, conversation, shop) -> dict:
    """The four turns of the conversation; returns the tool results the model read, by tool."""
    calabresa, coke = shop["calabresa"], shop["coke"]
    told: dict[str, list] = {}

    def turn(text, *steps):
        before = len(fake_llm.chat_requests())
        fake_llm.script(*steps)
        customer_turn(conversation, text)
        requests = fake_llm.chat_requests()[before:]
        assert len(requests) == len(steps)
        # each request after a tool round carries that round's results (the last ones appended)
        for previous, request in zip(steps, requests[1:]):
            results = tool_results(request)[-len(previous.tool_calls):]
            for (name, _args), result in zip(previous.tool_calls, results):
                told.setdefault(name, []).append(result)

    turn("Oi! Quero 2 pizzas de calabresa e uma coca 2 litros",
         calls(("search_products", {"query": "pizza calabresa"}), ("search_products", {"query": "coca"})),
         calls(("add_to_cart", {"product_id": calabresa.pk, "quantity": 2}),
               ("add_to_cart", {"product_id": coke.pk, "quantity": 1})),
         reply("Anotei 2 Pizza Calabresa e 1 Coca-Cola 2L. É para entrega ou retirada?"))
    turn("Entrega no Centro, Rua das Flores 10",
         tool_call("set_delivery", {"fulfillment": "delivery", "neighbourhood": "centro",
                                    "address": "Rua das Flores, 10"}),
         reply("A taxa de entrega é R$ 7,00. Como prefere pagar?"))
    turn("Pix",
         tool_call("set_payment_method", {"method": "pix"}),
         reply("Posso confirmar o pedido?"))
    turn("Pode confirmar",
         tool_call("confirm_order", {}),
         reply("Pedido feito! É só pagar o Pix acima."))
    return told


def test_search_two_products_delivery_pix_and_confirm(shop, conversation, fake_llm, mercadopago, alpha):
    from apps.core.templatetags.money import format_money
    from apps.store.models import Order, Payment, StockMovement

    store_settings_set(mercadopago_access_token=ACCESS_TOKEN)
    told = order_over_whatsapp(fake_llm, conversation, shop)

    # what the model read: prices from the database, then the cart, the fee, the placed order
    searched = {p["name"]: p for result in told["search_products"] for p in result["products"]}
    assert searched["Pizza Calabresa"]["price"] == "59.90" and searched["Coca-Cola 2L"]["price"] == "14.00"
    assert [r["ok"] for r in told["add_to_cart"]] == [True, True]
    assert told["add_to_cart"][-1]["cart"]["subtotal"] == "133.80"
    assert told["set_delivery"][0]["delivery"]["fee"] == "7.00"
    assert told["set_delivery"][0]["cart"]["total"] == "140.80"
    assert told["set_payment_method"][0]["cart"]["missing_before_confirm"] == []
    [confirmed] = told["confirm_order"]
    assert confirmed["ok"] is True and confirmed["summary_sent"] is True
    assert confirmed["estimated_minutes"] == 40

    # exactly one order, right items, fee and totals
    [order] = Order.objects.exclude(status="cart")
    assert not Order.objects.filter(status="cart").exists()
    assert (order.status, order.channel, order.created_by_ai) == ("placed", "whatsapp", True)
    assert order.contact == conversation.contact and order.conversation_id == conversation.pk
    assert order.number is not None and confirmed["order"]["number"] == order.number
    assert [(i.product_name, i.quantity, i.unit_price, i.total) for i in order.items.order_by("id")] == [
        ("Pizza Calabresa", D("2"), D("59.90"), D("119.80")), ("Coca-Cola 2L", D("1"), D("14.00"), D("14.00"))]
    assert (order.subtotal, order.delivery_fee, order.total) == (D("133.80"), D("7.00"), D("140.80"))
    assert order.cost_total == D("58.00")
    assert (order.fulfillment, order.neighbourhood, order.delivery_address) == ("delivery", "Centro",
                                                                                "Rua das Flores, 10")
    assert order.payment_method == "pix" and order.payment_status == "pending"
    assert order.events.filter(status="placed", by_ai=True).count() == 1
    assert order.ordering_state["step"] == "placed"

    # stock reserved for this order (and nothing else moved)
    for product, left in ((shop["calabresa"], "18"), (shop["coke"], "49"), (shop["margherita"], "5")):
        product.refresh_from_db()
        assert product.stock_quantity == D(left), product.name
    reserved = StockMovement.objects.filter(order=order, kind="reservation")
    assert sorted((m.product.name, m.quantity) for m in reserved) == [("Coca-Cola 2L", D("-1")),
                                                                       ("Pizza Calabresa", D("-2"))]

    # the chat: the summary (with the order card), the Pix QR image and code, then the model's reply
    payment = Payment.objects.get(order=order)
    assert payment.amount == D("140.80") and payment.qr_code
    assert len(mercadopago.calls("POST", "/v1/payments")) == 1
    messages = ai_messages(conversation)
    texts = [m.text for m in messages]
    summary = messages[-4]
    assert summary.payload["card"] == "order" and summary.payload["order_id"] == order.pk
    assert summary.payload["order"]["total"] == "140.80" and summary.payload["order"]["number"] == order.number
    assert summary.payload["decision_id"] == last_decision(conversation).pk
    assert f"#{order.number}" in summary.text
    language = alpha.language or "pt-br"
    for amount in (order.total, order.delivery_fee, D("119.80")):
        assert format_money(amount, language=language) in summary.text
    assert "Pizza Calabresa" in summary.text and "Coca-Cola 2L" in summary.text
    qr = messages[-3]
    assert qr.type == "image" and qr.media and qr.payload.get("pix") is True
    assert texts[-2] == payment.qr_code
    assert texts[-1] == "Pedido feito! É só pagar o Pix acima."
    assert "card" not in messages[-1].payload  # the summary carries the order's card; no stale cart card
    assert confirmed["payment"]["ok"] is True and confirmed["payment"]["copy_paste_code"] == payment.qr_code
    assert confirmed["payment"]["amount"] == "140.80"
    assert "do not repeat" in confirmed["note"]

    decision = last_decision(conversation)
    assert decision.action == "tool" and decision.tool_calls[0]["name"] == "confirm_order"


def test_without_mercado_pago_the_order_stands_and_the_model_is_told(shop, conversation, fake_llm):
    from apps.store.models import Order, Payment

    told = order_over_whatsapp(fake_llm, conversation, shop)

    [confirmed] = told["confirm_order"]
    assert confirmed["ok"] is True
    assert confirmed["payment"]["ok"] is False and confirmed["payment"]["error"] == "payment_unavailable"
    assert "team will send the payment details" in confirmed["payment"]["message"]
    [order] = Order.objects.exclude(status="cart")
    assert order.total == D("140.80") and order.status == "placed"
    assert not Payment.objects.exists()
    texts = [m.text for m in ai_messages(conversation)]
    assert f"#{order.number}" in texts[-2] and texts[-1] == "Pedido feito! É só pagar o Pix acima."


def test_confirming_twice_places_one_order(shop, conversation, fake_llm):
    """The model calls confirm_order again (a repeated "confirma"): the cart is gone, nothing new."""
    from apps.store.models import Order

    order_over_whatsapp(fake_llm, conversation, shop)
    fake_llm.script(tool_call("confirm_order", {}), reply("Seu pedido já foi feito."))
    before = len(fake_llm.chat_requests())
    customer_turn(conversation, "confirma")
    [again] = tool_results(fake_llm.chat_requests()[before + 1])[-1:]
    assert (again["ok"], again["error"]) == (False, "empty_cart")
    assert Order.objects.exclude(status="cart").count() == 1
    shop["calabresa"].refresh_from_db()
    assert shop["calabresa"].stock_quantity == D("18")
