"""Interactive menus: real buttons and lists on the Cloud API (checked on the wire of a fake Graph
API), numbered text elsewhere, and the customer's answer understood in every form."""
from __future__ import annotations

import pytest
from django.utils import translation

from apps.inbox.menus import match_menu_reply, menu_as_text, menu_to_outbound
from apps.whatsapp.models import Connection
from apps.whatsapp.providers import get_provider
from apps.whatsapp.providers.base import OutboundMessage
from tests.fakes import cloud_api as fake

CLOUD_API = get_provider("cloud_api")  # through the registry, which loads every provider

SHORT = {"body": "O que você deseja?", "options": [
    {"id": "pizza", "title": "Pizza"}, {"id": "drinks", "title": "Bebidas"}, {"id": "human", "title": "Atendente"}]}
LONG = {"body": "Escolha o sabor", "button": "Ver sabores", "options": [
    {"id": f"s{i}", "title": title, "description": "Grande, 8 fatias"} for i, title in enumerate(
        ["Calabresa", "Muçarela", "Portuguesa", "Frango com Catupiry", "Quatro Queijos"], start=1)]}


def cloud() -> Connection:
    return Connection(name="Oficial", provider="cloud_api")


def qr() -> Connection:
    return Connection(name="QR", provider="evolution")


def test_up_to_three_short_options_become_reply_buttons():
    kind, text, payload = menu_to_outbound(cloud(), SHORT)
    assert (kind, text) == ("interactive", "O que você deseja?")
    assert payload["buttons"] == [{"id": "pizza", "title": "Pizza"}, {"id": "drinks", "title": "Bebidas"},
                                  {"id": "human", "title": "Atendente"}]
    assert payload["menu"]["options"][1]["title"] == "Bebidas"  # kept to match the answer later


def test_more_options_become_a_list():
    kind, _, payload = menu_to_outbound(cloud(), LONG)
    assert kind == "interactive"
    assert payload["button"] == "Ver sabores"
    assert [row["title"] for row in payload["sections"][0]["rows"]][3] == "Frango com Catupiry"
    assert payload["sections"][0]["rows"][0]["description"] == "Grande, 8 fatias"


def test_long_titles_move_from_buttons_to_a_list_and_too_many_options_to_text():
    long_titles = {"body": "Tipo", "options": [{"id": "a", "title": "Entrega em domicílio"},  # 20: fits a button
                                               {"id": "b", "title": "Retirar no balcão da loja"}]}  # 25: fits neither
    assert menu_to_outbound(cloud(), long_titles)[0] == "text"
    mid = {"body": "Tipo", "options": [{"id": "a", "title": "Retirada no balcão da loja"[:22]}]}
    kind, _, payload = menu_to_outbound(cloud(), mid)
    assert kind == "interactive" and "sections" in payload
    many = {"body": "Escolha", "options": [{"id": str(i), "title": f"Opção {i}"} for i in range(1, 13)]}
    kind, text, _ = menu_to_outbound(cloud(), many)
    assert kind == "text" and "12. Opção 12" in text


def test_cloud_api_menus_are_accepted_by_graph():
    """What menu_to_outbound produces goes through the real provider to the fake Graph API."""
    with fake.FakeGraphApi() as graph:
        conn = Connection(name="Oficial", provider="cloud_api", instance_name=graph.phone_number_id,
                          config={"graph_url": graph.url, "graph_version": graph.version})
        conn.set_credentials({"access_token": graph.access_token})
        for menu in (SHORT, LONG):
            kind, text, payload = menu_to_outbound(conn, menu)
            CLOUD_API.send(conn, OutboundMessage(uid="u", to="5511987654321", type=kind, text=text,
                                                          payload=payload))
        buttons, listing = graph.sent
    assert buttons["interactive"]["type"] == "button"
    assert [b["reply"]["id"] for b in buttons["interactive"]["action"]["buttons"]] == ["pizza", "drinks", "human"]
    assert listing["interactive"]["type"] == "list"
    assert listing["interactive"]["action"]["button"] == "Ver sabores"
    assert len(listing["interactive"]["action"]["sections"][0]["rows"]) == 5


def test_other_providers_get_numbered_text():
    with translation.override("en"):
        kind, text, payload = menu_to_outbound(qr(), {"body": "O que você deseja?", "options": SHORT["options"][:2]})
    assert kind == "text"
    assert text == "O que você deseja?\n\n1. Pizza\n2. Bebidas\n\nReply with the number of your choice."
    assert payload["menu"]["options"][0] == {"id": "pizza", "title": "Pizza"}


def test_numbered_text_is_translated_and_shows_descriptions():
    with translation.override("pt-br"):
        expected_hint = translation.gettext("Reply with the number of your choice.")
        text = menu_as_text(LONG)
    assert text.startswith("Escolha o sabor\n\n1. Calabresa - Grande, 8 fatias\n2. Muçarela - Grande, 8 fatias")
    assert text.endswith(expected_hint)


@pytest.mark.parametrize("answer, expected", [
    ("2", "drinks"), (" 2 ", "drinks"), ("2.", "drinks"), ("3)", "human"),
    ("Bebidas", "drinks"), ("bebidas", "drinks"), ("  BEBIDAS! ", "drinks"), ("atendente", "human"),
    ("2. Bebidas", "drinks"),
])
def test_the_answer_is_matched_by_number_or_title(answer, expected):
    assert match_menu_reply(SHORT, answer)["id"] == expected


def test_titles_match_without_accents():
    assert match_menu_reply(LONG, "mucarela")["id"] == "s2"
    assert match_menu_reply(LONG, "frango com catupiry")["id"] == "s4"
    assert match_menu_reply({"options": [{"id": "x", "title": "Bebidas geladas"}]}, "bébidas  geladas")["id"] == "x"


def test_the_reply_id_of_a_button_or_list_wins():
    assert match_menu_reply(SHORT, "Bebidas", reply_id="human")["id"] == "human"
    assert match_menu_reply(LONG, "", reply_id="s5")["title"] == "Quatro Queijos"


@pytest.mark.parametrize("answer", ["0", "4", "99", "quero pizza e bebida", "", "   ", "2. Pizza"])
def test_anything_else_matches_nothing(answer):
    assert match_menu_reply(SHORT, answer) is None


def test_options_without_ids_are_numbered():
    menu = {"body": "Sim ou não?", "options": [{"title": "Sim"}, {"title": "Não"}]}
    _, _, payload = menu_to_outbound(cloud(), menu)
    assert payload["buttons"] == [{"id": "1", "title": "Sim"}, {"id": "2", "title": "Não"}]
    assert match_menu_reply(menu, "nao")["id"] == "2"
