"""The assistant's ordering tools (apps/store/tools.py), driven the way production drives them: the
fake OpenAI server scripts the model's tool calls, the real SDK and the real turn run them, and each
test reads what the model was told in the next request's tool message.

Refusals (unknown product, zero / fractional / over-limit quantity, out of stock, unknown
neighbourhood, below the minimum, nothing chosen yet) come back as ``{"ok": false, "error": code,
"message": ...}`` and leave no order behind; tools the assistant did not enable are refused; a
product of tenant beta does not exist for alpha; a customer sees only their own orders."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from apps.agents.tests.conftest import _fake_llm_server, customer_turn, fake_llm, make_assistant, make_provider  # noqa: F401
from apps.inbox.tests.helpers_inbox import make_contact, make_conversation
from tests.fakes.openai_server import reply, tool_call

from .conftest import D, make_category, make_order, make_product, make_zone, store_settings_set

pytestmark = pytest.mark.usefixtures("english")

ORDER_TOOLS = ["search_products", "add_to_cart", "update_cart_item", "remove_from_cart", "view_cart",
               "set_delivery", "set_payment_method", "confirm_order", "order_status"]


@pytest.fixture
def conversation(alpha):
    return make_conversation(contact=make_contact("Joana Lima", phone="+5511987650101"))


@pytest.fixture
def llm(alpha, fake_llm):
    make_provider(fake_llm)
    make_assistant(enabled_tools=ORDER_TOOLS)
    return fake_llm


def run_tool(llm, conversation, name, arguments, text="..."):
    """The model calls ``name`` once in a customer turn; returns what the tool told the model."""
    llm.script(tool_call(name, arguments), reply("Ok!"))
    before = len(llm.chat_requests())
    customer_turn(conversation, text)
    requests = llm.chat_requests()[before:]
    assert len(requests) == 2, "the model was not called back with the tool result"
    told = [m for m in requests[1]["messages"] if m["role"] == "tool"]
    return json.loads(told[-1]["content"])


def cart_of(conversation):
    from apps.store.models import Order

    return Order.objects.filter(conversation=conversation, status="cart").first()


def placed_orders(contact=None):
    from apps.store.models import Order

    orders = Order.objects.exclude(status="cart")
    return orders.filter(contact=contact) if contact is not None else orders


# --- registration --------------------------------------------------------------------------------


def test_the_tools_are_registered_off_by_default_with_strict_schemas_and_the_price_rule():
    from apps.agents.tools import default_tool_names, get_tool

    for name in ORDER_TOOLS:
        tool = get_tool(name)
        assert tool is not None, name
        assert tool.default_enabled is False
        assert tool.parameters["additionalProperties"] is False
        assert "never state a price you did not get from a tool" in tool.description
        assert str(tool.label)
    assert not set(ORDER_TOOLS) & set(default_tool_names())


def test_a_tool_the_assistant_did_not_enable_is_refused(alpha, fake_llm, conversation):
    make_provider(fake_llm)
    make_assistant(enabled_tools=["search_products"])
    pizza = make_product("Pizza Calabresa", price="59.90")
    told = run_tool(fake_llm, conversation, "add_to_cart", {"product_id": pizza.pk, "quantity": 1})
    assert told["error"].startswith("unknown tool 'add_to_cart'")
    assert cart_of(conversation) is None
    assert [t["function"]["name"] for t in fake_llm.chat_requests()[0]["tools"]] == ["search_products"]


def test_the_model_cannot_pass_a_price(llm, conversation):
    """Strict schemas: arguments beyond the declared ones are refused before the tool runs."""
    pizza = make_product("Pizza Calabresa", price="59.90")
    told = run_tool(llm, conversation, "add_to_cart", {"product_id": pizza.pk, "quantity": 1, "price": "1.00"})
    assert told["error"].startswith("invalid arguments") and "'price'" in told["error"]
    assert cart_of(conversation) is None


# --- search --------------------------------------------------------------------------------------


def test_search_returns_prices_units_and_availability_from_the_database(llm, conversation):
    pizzas = make_category("Pizzas")
    make_product("Pizza Calabresa", price="59.90", stock="50", category=pizzas, description="Calabresa e cebola")
    make_product("Pizza Calabresa Picante", price="62.5", stock="3", category=pizzas)
    make_product("Calabresa Fatiada", price="39.90", stock="0", unit="kg")
    make_product("Pizza de Calabresa Antiga", price="10.00", is_active=False)
    make_product("Coca-Cola 2L", price="14.00")

    told = run_tool(llm, conversation, "search_products", {"query": "calabresa"}, "Tem pizza de calabresa?")

    assert told["ok"] is True and told["more_results"] is False
    found = {p["name"]: p for p in told["products"]}
    assert set(found) == {"Pizza Calabresa", "Pizza Calabresa Picante", "Calabresa Fatiada"}  # active only
    assert found["Pizza Calabresa"] == {
        "id": found["Pizza Calabresa"]["id"], "name": "Pizza Calabresa", "category": "Pizzas", "unit": "unit",
        "price": "59.90", "availability": "in stock", "description": "Calabresa e cebola"}
    assert found["Pizza Calabresa Picante"]["price"] == "62.50"
    assert found["Pizza Calabresa Picante"]["availability"] == "only 3 left"
    assert found["Calabresa Fatiada"]["availability"] == "out of stock"
    assert found["Calabresa Fatiada"]["unit"] == "kg"


def test_search_ignores_accents_case_and_plurals_and_filters_by_category(llm, conversation):
    queijos = make_category("Queijos")
    frios = make_category("Frios Fatiados")
    make_product("Queijo Muçarela", price="49.90", unit="kg", category=queijos)
    make_product("Presunto Cozido", price="39.90", unit="kg", category=frios)

    told = run_tool(llm, conversation, "search_products", {"query": "QUEIJOS mucarela"})
    assert [p["name"] for p in told["products"]] == ["Queijo Muçarela"]

    told = run_tool(llm, conversation, "search_products", {"query": "", "category": "frios"})
    assert [p["name"] for p in told["products"]] == ["Presunto Cozido"]


def test_search_caps_the_results_and_says_there_are_more(llm, conversation):
    for i in range(10):
        make_product(f"Pizza {i:02d}", price="40.00")
    told = run_tool(llm, conversation, "search_products", {"query": "pizza"})
    assert len(told["products"]) == 8 and told["more_results"] is True


def test_search_with_nothing_found_tells_the_model_not_to_invent(llm, conversation):
    make_product("Pizza Calabresa", price="59.90")
    told = run_tool(llm, conversation, "search_products", {"query": "sushi"})
    assert told["products"] == [] and "Do not invent" in told["message"]


def test_selling_without_stock_shows_everything_in_stock(llm, conversation):
    store_settings_set(allow_negative_stock=True)
    make_product("Pizza Calabresa", price="59.90", stock="0")
    told = run_tool(llm, conversation, "search_products", {"query": "calabresa"})
    assert told["products"][0]["availability"] == "in stock"


# --- the cart ------------------------------------------------------------------------------------


def test_add_update_remove_and_view_the_cart(llm, conversation):
    from apps.store.models import StoreSettings

    store_settings_set(ordering_reset_minutes=120, cart_reminder_minutes=10, cart_cancel_minutes=15)
    pizza = make_product("Pizza Calabresa", price="59.90")
    coke = make_product("Coca-Cola 2L", price="14.00")

    told = run_tool(llm, conversation, "add_to_cart", {"product_id": pizza.pk, "quantity": 2})
    assert told["ok"] is True
    assert told["added"] == {"product_id": pizza.pk, "name": "Pizza Calabresa", "quantity": "2", "unit_price": "59.90"}
    assert told["cart"]["items"] == [{"product_id": pizza.pk, "name": "Pizza Calabresa", "quantity": "2",
                                      "unit": "unit", "unit_price": "59.90", "total": "119.80"}]
    assert told["cart"]["subtotal"] == "119.80" and told["cart"]["total"] == "119.80"
    assert told["cart"]["missing_before_confirm"] == ["delivery_or_pickup", "payment_method"]

    cart = cart_of(conversation)
    assert cart.channel == "whatsapp" and cart.contact == conversation.contact
    assert cart.ordering_state["step"] == "cart"
    assert cart.ordering_reset_due_at is not None and cart.cart_cancel_due_at is not None
    minutes = (cart.ordering_reset_due_at - cart.updated_at).total_seconds() / 60
    assert 119 < minutes <= 120.1
    assert StoreSettings.objects.get(pk=1).cart_cancel_minutes == 15
    reminder = (cart.cart_reminder_due_at - cart.updated_at).total_seconds() / 60
    cancel = (cart.cart_cancel_due_at - cart.updated_at).total_seconds() / 60
    assert 9.9 < reminder <= 10.1 and 14.9 < cancel <= 15.1

    run_tool(llm, conversation, "add_to_cart", {"product_id": coke.pk, "quantity": 1})
    told = run_tool(llm, conversation, "add_to_cart", {"product_id": pizza.pk, "quantity": 1})  # increases the line
    assert [(i["name"], i["quantity"]) for i in told["cart"]["items"]] == [("Pizza Calabresa", "3"),
                                                                         ("Coca-Cola 2L", "1")]
    told = run_tool(llm, conversation, "update_cart_item", {"product_id": pizza.pk, "quantity": 1})
    assert told["cart"]["subtotal"] == "73.90"
    told = run_tool(llm, conversation, "update_cart_item", {"product_id": coke.pk, "quantity": 0})
    assert told["removed"] == "Coca-Cola 2L" and [i["name"] for i in told["cart"]["items"]] == ["Pizza Calabresa"]
    told = run_tool(llm, conversation, "remove_from_cart", {"product_id": pizza.pk})
    assert told["cart"]["items"] == [] and told["cart"]["total"] == "0.00"
    told = run_tool(llm, conversation, "remove_from_cart", {"product_id": pizza.pk})
    assert told["ok"] is False and told["error"] == "not_in_cart"
    told = run_tool(llm, conversation, "view_cart", {})
    assert told["ok"] is True and told["cart"]["items"] == []
    assert not placed_orders().exists()


def test_view_cart_without_a_cart(llm, conversation):
    told = run_tool(llm, conversation, "view_cart", {})
    assert told == {"ok": True, "cart": None, "message": "The customer has no open cart."}
    assert cart_of(conversation) is None


def test_weighed_goods_take_fractions(llm, conversation):
    cheese = make_product("Queijo Prato", price="59.90", unit="kg")
    told = run_tool(llm, conversation, "add_to_cart", {"product_id": cheese.pk, "quantity": 0.333})
    assert told["ok"] is True
    assert told["cart"]["items"][0]["quantity"] == "0.333"
    assert told["cart"]["items"][0]["total"] == "19.95"  # 0.333 x 59.90 = 19.9467 -> 19.95


# --- refusals: the model is told, nothing is placed ----------------------------------------------


def test_unknown_product(llm, conversation):
    told = run_tool(llm, conversation, "add_to_cart", {"product_id": 987654, "quantity": 1})
    assert told["ok"] is False and told["error"] == "product_not_found"
    assert "search_products" in told["message"]
    assert not placed_orders().exists()
    cart = cart_of(conversation)
    assert cart is None or not cart.items.exists()


def test_inactive_product(llm, conversation):
    old = make_product("Pizza Antiga", price="10.00", is_active=False)
    told = run_tool(llm, conversation, "add_to_cart", {"product_id": old.pk, "quantity": 1})
    assert (told["ok"], told["error"]) == (False, "product_inactive")


@pytest.mark.parametrize("quantity", [0, 1.5])
def test_zero_or_fractional_units_are_refused(llm, conversation, quantity):
    pizza = make_product("Pizza Calabresa", price="59.90")
    told = run_tool(llm, conversation, "add_to_cart", {"product_id": pizza.pk, "quantity": quantity})
    assert told["ok"] is False and told["error"] == "quantity_invalid"
    assert "greater than zero" in told["message"] and "whole units" in told["message"]
    cart = cart_of(conversation)
    assert cart is None or not cart.items.exists()


def test_negative_quantity_fails_the_schema(llm, conversation):
    pizza = make_product("Pizza Calabresa", price="59.90")
    told = run_tool(llm, conversation, "add_to_cart", {"product_id": pizza.pk, "quantity": -2})
    assert told["error"].startswith("invalid arguments at quantity")


def test_over_the_limit_per_item(llm, conversation):
    pizza = make_product("Pizza Calabresa", price="59.90", stock="100")
    told = run_tool(llm, conversation, "add_to_cart", {"product_id": pizza.pk, "quantity": 11})
    assert told["ok"] is False and told["error"] == "quantity_over_limit"
    assert told["limit"] == "10" and "At most 10" in told["message"]
    assert cart_of(conversation) is None or not cart_of(conversation).items.exists()

    run_tool(llm, conversation, "add_to_cart", {"product_id": pizza.pk, "quantity": 8})
    told = run_tool(llm, conversation, "add_to_cart", {"product_id": pizza.pk, "quantity": 3})  # 8 + 3 > 10
    assert told["error"] == "quantity_over_limit"
    told = run_tool(llm, conversation, "update_cart_item", {"product_id": pizza.pk, "quantity": 12})
    assert told["error"] == "quantity_over_limit"
    assert cart_of(conversation).items.get().quantity == D("8")


def test_a_lower_limit_set_by_the_store(llm, conversation):
    store_settings_set(max_quantity_per_item=Decimal("3"))
    pizza = make_product("Pizza Calabresa", price="59.90")
    told = run_tool(llm, conversation, "add_to_cart", {"product_id": pizza.pk, "quantity": 4})
    assert told["error"] == "quantity_over_limit" and told["limit"] == "3"


def test_out_of_stock(llm, conversation):
    pizza = make_product("Pizza Margherita", price="54.90", stock="2")
    told = run_tool(llm, conversation, "add_to_cart", {"product_id": pizza.pk, "quantity": 3})
    assert told["ok"] is False and told["error"] == "out_of_stock"
    assert told["available"] == "2" and "Pizza Margherita" in told["message"]
    gone = make_product("Pizza Portuguesa", price="54.90", stock="0")
    told = run_tool(llm, conversation, "add_to_cart", {"product_id": gone.pk, "quantity": 1})
    assert told["error"] == "out_of_stock" and told["available"] == "0"
    assert not placed_orders().exists()


def _ready_cart(llm, conversation, product, quantity=1, *, method="pix"):
    run_tool(llm, conversation, "add_to_cart", {"product_id": product.pk, "quantity": quantity})
    told = run_tool(llm, conversation, "set_delivery", {"fulfillment": "pickup"})
    assert told["ok"] is True, told
    if method:
        assert run_tool(llm, conversation, "set_payment_method", {"method": method})["ok"] is True


def test_stock_gone_by_the_time_the_order_is_confirmed(llm, conversation):
    from apps.store.services.stock import stock_adjust

    pizza = make_product("Pizza Margherita", price="54.90", stock="2")
    _ready_cart(llm, conversation, pizza, 2, method="cash")
    stock_adjust(pizza, quantity=D("-1"), reason="sold at the counter")  # someone else took one

    told = run_tool(llm, conversation, "confirm_order", {})
    assert told["ok"] is False and told["error"] == "out_of_stock"
    assert not placed_orders().exists()
    assert cart_of(conversation).status == "cart"
    pizza.refresh_from_db()
    assert pizza.stock_quantity == D("1")  # nothing reserved


def test_unknown_neighbourhood(llm, conversation):
    make_zone("Centro", fee="5.00")
    make_zone("Jardim América", fee="8.00")
    pizza = make_product("Pizza Calabresa", price="59.90")
    run_tool(llm, conversation, "add_to_cart", {"product_id": pizza.pk, "quantity": 1})

    told = run_tool(llm, conversation, "set_delivery",
                    {"fulfillment": "delivery", "neighbourhood": "Bairro Distante", "address": "Rua X, 1"})
    assert told["ok"] is False and told["error"] == "unknown_zone"
    assert set(told["delivery_areas"]) == {"Centro", "Jardim América"}
    assert "pickup" in told["message"]
    told = run_tool(llm, conversation, "set_payment_method", {"method": "cash"})
    told = run_tool(llm, conversation, "confirm_order", {})
    assert told["ok"] is False and told["error"] == "fulfillment_missing"
    assert not placed_orders().exists()
    assert cart_of(conversation).delivery_fee == 0


def test_a_known_neighbourhood_ignoring_accents_gives_the_fee(llm, conversation):
    make_zone("Jardim América", fee="8.00", min_order="30.00", estimated_minutes=50)
    pizza = make_product("Pizza Calabresa", price="59.90")
    run_tool(llm, conversation, "add_to_cart", {"product_id": pizza.pk, "quantity": 1})
    told = run_tool(llm, conversation, "set_delivery",
                    {"fulfillment": "delivery", "neighbourhood": "jardim america", "address": "Rua das Flores, 10"})
    assert told["ok"] is True
    assert told["delivery"] == {"neighbourhood": "Jardim América", "fee": "8.00", "min_order": "30.00",
                                "estimated_minutes": 50}
    assert told["cart"]["delivery_fee"] == "8.00" and told["cart"]["total"] == "67.90"
    assert told["cart"]["fulfillment"] == "delivery"


def test_delivery_without_a_neighbourhood_asks_for_it(llm, conversation):
    pizza = make_product("Pizza Calabresa", price="59.90")
    run_tool(llm, conversation, "add_to_cart", {"product_id": pizza.pk, "quantity": 1})
    told = run_tool(llm, conversation, "set_delivery", {"fulfillment": "delivery"})
    assert (told["ok"], told["error"]) == (False, "neighbourhood_required")


def test_below_the_minimum_order(llm, conversation):
    make_zone("Centro", fee="5.00", min_order="50.00")
    coke = make_product("Coca-Cola 2L", price="14.00")
    run_tool(llm, conversation, "add_to_cart", {"product_id": coke.pk, "quantity": 2})
    told = run_tool(llm, conversation, "set_delivery",
                    {"fulfillment": "delivery", "neighbourhood": "Centro", "address": "Rua A, 1"})
    assert told["ok"] is True and "22.00 missing" in told["warning"]
    run_tool(llm, conversation, "set_payment_method", {"method": "cash"})
    told = run_tool(llm, conversation, "confirm_order", {})
    assert told["ok"] is False and told["error"] == "below_minimum"
    assert (told["min_order"], told["missing"]) == ("50.00", "22.00")
    assert not placed_orders().exists()


def test_confirm_needs_items_and_a_payment_method(llm, conversation):
    told = run_tool(llm, conversation, "confirm_order", {})
    assert (told["ok"], told["error"]) == (False, "empty_cart")
    pizza = make_product("Pizza Calabresa", price="59.90")
    _ready_cart(llm, conversation, pizza, method=None)
    told = run_tool(llm, conversation, "confirm_order", {})
    assert (told["ok"], told["error"]) == (False, "payment_method_missing")
    assert not placed_orders().exists()


def test_boleto_is_not_a_chat_payment_method(llm, conversation):
    pizza = make_product("Pizza Calabresa", price="59.90")
    run_tool(llm, conversation, "add_to_cart", {"product_id": pizza.pk, "quantity": 1})
    told = run_tool(llm, conversation, "set_payment_method", {"method": "boleto"})
    assert told["error"].startswith("invalid arguments at method")
    assert cart_of(conversation).payment_method == ""


def test_a_placed_order_with_cash_for_pickup(llm, conversation):
    pizza = make_product("Pizza Calabresa", price="59.90", stock="10")
    _ready_cart(llm, conversation, pizza, 2, method="cash")
    told = run_tool(llm, conversation, "confirm_order", {})
    assert told["ok"] is True and "payment" not in told
    [order] = placed_orders()
    assert (order.status, order.payment_method, order.fulfillment, order.total) == ("placed", "cash", "pickup",
                                                                                    D("119.80"))
    assert told["order"]["number"] == order.number and told["order"]["total"] == "119.80"
    assert order.events.filter(status="placed", by_ai=True).exists()
    pizza.refresh_from_db()
    assert pizza.stock_quantity == D("8")
    assert cart_of(conversation) is None
    # the next message starts a new cart; the placed order is untouched
    run_tool(llm, conversation, "add_to_cart", {"product_id": pizza.pk, "quantity": 1})
    assert cart_of(conversation).pk != order.pk
    order.refresh_from_db()
    assert order.items.get().quantity == D("2")


# --- order status ---------------------------------------------------------------------------------


def test_order_status_of_the_customers_own_orders_only(llm, conversation):
    pizza = make_product("Pizza Calabresa", price="59.90")
    mine = make_order([(pizza, 1)], contact=conversation.contact, channel="whatsapp", payment_method="pix")
    other = make_order([(pizza, 1)], contact=make_contact("Outra Pessoa", phone="+5511987650199"),
                       channel="whatsapp")

    told = run_tool(llm, conversation, "order_status", {})
    assert told["ok"] is True
    assert (told["order"]["number"], told["order"]["status"]) == (mine.number, "placed")
    assert told["order"]["status_text"] == "received, waiting for the store to confirm"
    assert told["order"]["total"] == "59.90" and "order_id" not in told["order"]

    told = run_tool(llm, conversation, "order_status", {"number": other.number})
    assert (told["ok"], told["error"]) == (False, "order_not_found") and "order" not in told


def test_order_status_without_orders(llm, conversation):
    told = run_tool(llm, conversation, "order_status", {})
    assert (told["ok"], told["error"]) == (False, "no_orders")


# --- isolation ------------------------------------------------------------------------------------


def test_a_product_of_another_tenant_does_not_exist_here(other_tenant, llm, conversation):
    # other_tenant first: resolving it switches to the public schema, alpha's fixture then switches back
    from apps.store.models import Product

    with schema_context(other_tenant.schema_name):
        theirs = Product.objects.create(pk=910001, sku="BETA-1", name="Pizza Exclusiva Beta", price=D("99.00"),
                                        stock_quantity=D("50"))
    assert not Product.objects.filter(pk=theirs.pk).exists()

    told = run_tool(llm, conversation, "search_products", {"query": "exclusiva beta"})
    assert told["products"] == []
    told = run_tool(llm, conversation, "add_to_cart", {"product_id": theirs.pk, "quantity": 1})
    assert (told["ok"], told["error"]) == (False, "product_not_found")
    assert not placed_orders().exists()
    with schema_context(other_tenant.schema_name):
        from apps.store.models import Order

        assert not Order.objects.exists()
        assert Product.objects.get(pk=theirs.pk).stock_quantity == D("50")


# --- the card for staff ----------------------------------------------------------------------------


def test_a_cart_change_leaves_the_card_for_the_turns_reply(alpha, conversation):
    """The tool side of the inbox card: the context carries the cart's card payload."""
    from apps.agents.tools import ToolContext, get_tool

    assistant = make_assistant(enabled_tools=ORDER_TOOLS)
    pizza = make_product("Pizza Calabresa", price="59.90")
    context = ToolContext(conversation=conversation, assistant=assistant)
    result = get_tool("add_to_cart").run(context, {"product_id": pizza.pk, "quantity": 2})
    assert result["ok"] is True
    card = context.order_card
    assert card["card"] == "cart" and card["order_id"] == cart_of(conversation).pk
    assert card["order"]["total"] == "119.80" and card["order"]["items"][0]["name"] == "Pizza Calabresa"
    json.dumps(card)  # stored in a JSON payload as is

    refused = get_tool("add_to_cart").run(context, {"product_id": 987654, "quantity": 1})
    assert refused["ok"] is False  # a refusal does not raise


def test_the_reply_after_a_cart_change_carries_the_cart_card(llm, conversation):
    """Needs the turn to attach ``context.order_card`` to its reply (a change in
    apps/agents/services/turn.py, asked of its owner); skipped until it does."""
    from apps.agents.services.turn import TurnRun
    from apps.agents.tests.conftest import ai_messages, last_decision

    if "card" not in TurnRun.__dataclass_fields__:
        pytest.skip("the turn does not attach the ordering tools' card to its reply yet")
    pizza = make_product("Pizza Calabresa", price="59.90")
    llm.script(tool_call("add_to_cart", {"product_id": pizza.pk, "quantity": 1}), reply("Anotado!"))
    customer_turn(conversation, "Uma calabresa")
    [message] = ai_messages(conversation)
    assert message.text == "Anotado!"
    assert message.payload["card"] == "cart" and message.payload["order_id"] == cart_of(conversation).pk
    assert message.payload["order"]["total"] == "59.90"
    assert message.payload["decision_id"] == last_decision(conversation).pk

    llm.script(tool_call("search_products", {"query": "pizza"}), reply("Temos calabresa."))
    customer_turn(conversation, "Que pizzas tem?")
    assert "card" not in ai_messages(conversation)[-1].payload  # nothing changed in the cart


def english_user(user):
    from apps.accounts.models import User

    User.objects.filter(pk=user.pk).update(language="en")  # rolled back with the test
    return user


def test_the_inbox_shows_an_order_card_with_a_link_to_sales(alpha, owner, conversation):
    from apps.inbox.tests.helpers_inbox import add_message, login

    message = add_message(conversation, "Pedido #41 feito!", direction="out", sender_kind="ai", payload={
        "order_id": 7, "card": "order", "order": {
            "order_id": 7, "number": 41, "status": "placed", "subtotal": "133.80", "discount": "0.00",
            "delivery_fee": "7.00", "total": "140.80", "fulfillment": "delivery", "neighbourhood": "Centro",
            "address": "Rua das Flores, 10", "payment_method": "pix", "payment_status": "pending",
            "items": [{"product_id": 1, "name": "Pizza Calabresa", "quantity": "2", "unit": "unit",
                       "unit_price": "59.90", "total": "119.80"},
                      {"product_id": 2, "name": "Queijo Prato", "quantity": "0.5", "unit": "kg",
                       "unit_price": "29.40", "total": "14.70"}]}})
    plain = add_message(conversation, "Só texto", direction="out", sender_kind="ai")
    client = login(alpha, english_user(owner))

    html = client.get(f"/inbox/m/{message.pk}/").content.decode()
    assert 'data-testid="order-card"' in html and 'data-card-kind="order"' in html
    assert "Order #41" in html and "Pizza Calabresa" in html and "0.500 kg" in html and "2×" in html
    assert "R$140.80" in html and "R$7.00" in html and "Centro" in html and "Pix" in html
    assert 'data-order-status="placed"' in html and ">Placed<" in html.replace("\n", "").replace(" ", "")
    assert 'href="/store/orders/?order=7"' in html

    assert 'data-testid="order-card"' not in client.get(f"/inbox/m/{plain.pk}/").content.decode()


def test_an_inbound_payload_never_renders_a_card(alpha, owner, conversation):
    from apps.inbox.tests.helpers_inbox import add_message, login

    message = add_message(conversation, "oi", payload={"order_id": 7, "card": "order", "order": {"status": "placed"}})
    html = login(alpha, owner).get(f"/inbox/m/{message.pk}/").content.decode()
    assert 'data-testid="order-card"' not in html
