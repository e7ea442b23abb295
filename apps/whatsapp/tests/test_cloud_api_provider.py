"""The Cloud API provider against a fake Graph API on 127.0.0.1: what goes on the wire when we
send, how Graph's answers and failures come back, media, credentials check and template listing."""
from __future__ import annotations

import base64

import pytest
from django.utils import translation

from apps.whatsapp.models import Connection
from apps.whatsapp.providers import get_provider
from apps.whatsapp.providers.base import (
    InboundMessage,
    OutboundMessage,
    PermanentProviderError,
    TemporaryProviderError,
)
from tests.fakes import cloud_api as fake

PROVIDER = get_provider("cloud_api")  # through the registry, which loads every provider


@pytest.fixture(scope="module")
def graph():
    with fake.FakeGraphApi() as server:
        yield server


@pytest.fixture(autouse=True)
def _reset(graph):
    """A clean fake per test; our own messages are asserted in English (Graph's are English anyway)."""
    graph.reset()
    with translation.override("en"):
        yield


def make_connection(graph, **credentials) -> Connection:
    """An unsaved Connection: the provider only reads its fields."""
    conn = Connection(name="Oficial", provider="cloud_api", instance_name=graph.phone_number_id,
                      config={"graph_url": graph.url, "waba_id": graph.waba_id, "graph_version": graph.version})
    conn.set_credentials({"access_token": graph.access_token, "app_secret": fake.APP_SECRET,
                          "verify_token": fake.VERIFY_TOKEN, **credentials})
    return conn


def send(graph, **fields):
    return PROVIDER.send(make_connection(graph), OutboundMessage(uid="0b5e6f0e-uid", to="+55 11 98765-4321", **fields))


def test_registered_with_its_capabilities():
    provider = get_provider("cloud_api")
    assert type(provider).__name__ == "CloudApiProvider" and provider.name == "cloud_api"
    assert provider.supports_interactive and provider.has_service_window


def test_text_goes_to_the_phone_number_with_our_idempotency_key(graph):
    result = send(graph, text="Olá, Maria!")

    assert result.provider_message_id.startswith("wamid.")
    (request,) = graph.calls("POST", "/messages")
    assert request.path == f"/{graph.version}/{graph.phone_number_id}/messages"
    assert request.headers["authorization"] == f"Bearer {graph.access_token}"
    assert request.json == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "5511987654321",
                            "biz_opaque_callback_data": "0b5e6f0e-uid", "type": "text",
                            "text": {"body": "Olá, Maria!", "preview_url": False}}


def test_graph_version_and_url_fall_back_to_settings(graph, settings):
    settings.WHATSAPP_GRAPH_API_URL = graph.url
    settings.WHATSAPP_GRAPH_API_VERSION = graph.version
    conn = make_connection(graph)
    conn.config = {"waba_id": graph.waba_id}
    PROVIDER.send(conn, OutboundMessage(uid="u1", to="5511987654321", text="oi"))
    assert graph.calls("POST", "/messages")[0].path == f"/{graph.version}/{graph.phone_number_id}/messages"


def test_image_by_link_with_caption(graph):
    send(graph, type="image", media_url="https://cdn.example.com/pizza.jpg", text="Nossa pizza")
    assert graph.sent[-1]["image"] == {"link": "https://cdn.example.com/pizza.jpg", "caption": "Nossa pizza"}


def test_document_from_base64_is_uploaded_then_sent_by_id(graph):
    pdf = b"%PDF-1.4 cardapio"
    send(graph, type="document", media_base64=base64.b64encode(pdf).decode(), media_mime="application/pdf",
         media_filename="cardapio.pdf", text="Cardápio")

    (upload,) = graph.calls("POST", "/media")
    assert upload.headers["content-type"].startswith("multipart/form-data; boundary=")
    document = graph.sent[-1]["document"]
    assert graph.uploads[document["id"]] == (pdf, "application/pdf", "cardapio.pdf")
    assert document["filename"] == "cardapio.pdf" and document["caption"] == "Cardápio"


def test_audio_carries_no_caption(graph):
    send(graph, type="audio", media_url="https://cdn.example.com/a.ogg", text="ignored")
    assert graph.sent[-1]["audio"] == {"link": "https://cdn.example.com/a.ogg"}


def test_reply_buttons(graph):
    send(graph, type="interactive", payload={"body": "Quer o cardápio?", "buttons": [
        {"id": "yes", "title": "Sim"}, {"id": "no", "title": "Não"}]})
    assert graph.sent[-1]["interactive"] == {
        "type": "button", "body": {"text": "Quer o cardápio?"},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Sim"}},
                               {"type": "reply", "reply": {"id": "no", "title": "Não"}}]}}


def test_list_with_sections(graph):
    rows = [{"id": f"p{i}", "title": f"Pizza {i}", "description": "Grande"} for i in range(1, 6)]
    send(graph, type="interactive", payload={"body": "Escolha", "button": "Ver opções",
                                             "sections": [{"title": "Pizzas", "rows": rows}]})
    interactive = graph.sent[-1]["interactive"]
    assert interactive["type"] == "list"
    assert interactive["action"]["button"] == "Ver opções"
    assert interactive["action"]["sections"][0]["rows"][4] == {"id": "p5", "title": "Pizza 5", "description": "Grande"}


@pytest.mark.parametrize("payload, reason", [
    ({"body": "x", "buttons": [{"id": str(i), "title": str(i)} for i in range(4)]}, "At most 3 buttons"),
    ({"body": "x", "buttons": [{"id": "a", "title": "A title that is far too long"}]}, "1-20 characters"),
    ({"body": "x", "buttons": [{"id": "a", "title": "A"}, {"id": "a", "title": "B"}]}, "Duplicate button id"),
    ({"body": "x", "button": "Ver", "sections": [{"rows": [{"id": str(i), "title": str(i)} for i in range(11)]}]},
     "1-10 options"),
    ({"body": "", "buttons": [{"id": "a", "title": "A"}]}, "needs a body"),
])
def test_invalid_menus_are_refused_before_calling_graph(graph, payload, reason):
    with pytest.raises(PermanentProviderError, match=reason):
        send(graph, type="interactive", payload=payload)
    assert graph.requests == []


def test_template_with_variables(graph):
    graph.templates.append(fake.approved_template("pedido_pronto", "Olá {{1}}, seu pedido {{2}} está pronto."))
    send(graph, type="template", payload={"name": "pedido_pronto", "language": "pt_BR",
                                          "variables": ["Maria", "#123"]})
    assert graph.sent[-1]["template"] == {
        "name": "pedido_pronto", "language": {"code": "pt_BR"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Maria"},
                                                       {"type": "text", "text": "#123"}]}]}


def test_graph_4xx_is_permanent_with_graphs_message(graph):
    with pytest.raises(PermanentProviderError) as caught:
        send(graph, type="template", payload={"name": "nao_existe", "language": "pt_BR"})
    text = str(caught.value)
    assert "Template name does not exist in the translation" in text
    assert "code 132001" in text and "nao_existe" in text


def test_invalid_recipient_is_permanent(graph):
    with pytest.raises(PermanentProviderError, match="not a valid WhatsApp number"):
        PROVIDER.send(make_connection(graph), OutboundMessage(uid="u", to="+55 123", text="oi"))


def test_bad_token_is_permanent_with_graphs_message(graph):
    conn = make_connection(graph, access_token="EAAG-revoked")
    with pytest.raises(PermanentProviderError) as caught:
        PROVIDER.send(conn, OutboundMessage(uid="u", to="5511987654321", text="oi"))
    assert "Error validating access token" in str(caught.value) and "code 190" in str(caught.value)
    assert graph.sent == []


def test_missing_token_says_what_to_do(graph):
    conn = make_connection(graph, access_token="")
    with pytest.raises(PermanentProviderError, match="access token is missing"):
        PROVIDER.send(conn, OutboundMessage(uid="u", to="5511987654321", text="oi"))


def test_server_errors_are_temporary_then_the_retry_succeeds(graph):
    graph.fail_next(2, status=500)
    for _ in range(2):
        with pytest.raises(TemporaryProviderError, match="unexpected error"):
            send(graph, text="oi")
    assert send(graph, text="oi").provider_message_id.startswith("wamid.")
    assert len(graph.sent) == 1  # the failed attempts sent nothing


def test_rate_limits_are_temporary(graph):
    graph.fail_next(1, status=429)
    with pytest.raises(TemporaryProviderError, match="Rate limit hit"):
        send(graph, text="oi")
    # Graph also reports throughput limits as 400 with code 130429: still worth a retry
    graph.fail_next(1, status=400, body=fake.graph_error("(#130429) Rate limit hit", code=130429))
    with pytest.raises(TemporaryProviderError):
        send(graph, text="oi")


def test_timeout_and_refused_connection_are_temporary(graph, settings):
    settings.WHATSAPP_HTTP_TIMEOUT = 0.2
    graph.fail_next(1, status=500, delay=0.6)
    with pytest.raises(TemporaryProviderError, match="timed out"):
        send(graph, text="oi")

    conn = make_connection(graph)
    conn.config = {**conn.config, "graph_url": "http://127.0.0.1:9"}  # discard port: nothing listens
    with pytest.raises(TemporaryProviderError, match="unreachable"):
        PROVIDER.send(conn, OutboundMessage(uid="u", to="5511987654321", text="oi"))


def test_test_credentials_shows_number_and_verified_name(graph):
    assert PROVIDER.test_credentials(make_connection(graph)) == "+55 11 4000-1234 (Alpha Frios)"
    (request,) = graph.requests
    assert request.path == f"/{graph.version}/{graph.phone_number_id}"
    assert request.query["fields"] == "display_phone_number,verified_name"

    with pytest.raises(PermanentProviderError, match="Error validating access token"):
        PROVIDER.test_credentials(make_connection(graph, access_token="wrong"))


def test_state_is_connected_while_the_token_works(graph):
    assert PROVIDER.state(make_connection(graph)).status == "connected"
    update = PROVIDER.state(make_connection(graph, access_token="wrong"))
    assert update.status == "error" and "access token" in update.error


def test_sync_templates_follows_paging(graph):
    graph.templates.extend(fake.approved_template(f"t{i}", f"Texto {{{{1}}}} {i}") for i in range(5))
    templates = PROVIDER.sync_templates(make_connection(graph))
    assert [t["name"] for t in templates] == ["t0", "t1", "t2", "t3", "t4"]
    pages = graph.calls("GET", "/message_templates")
    assert len(pages) == 3  # page_size 2: 2 + 2 + 1
    assert all(r.headers["authorization"] == f"Bearer {graph.access_token}" for r in pages)


def test_sync_templates_needs_the_account_id(graph):
    conn = make_connection(graph)
    conn.config = {"graph_url": graph.url}
    with pytest.raises(PermanentProviderError, match="Business Account ID is missing"):
        PROVIDER.sync_templates(conn)


def test_fetch_media_downloads_with_the_token(graph):
    media_id = graph.add_media(b"\xff\xd8jpeg-bytes", "image/jpeg")
    message = InboundMessage(provider_message_id="wamid.x", contact=None, timestamp=0, type="image",
                             media={"media_id": media_id, "mime": "image/jpeg", "filename": ""})
    content, mime, filename = PROVIDER.fetch_media(make_connection(graph), message)
    assert (content, mime) == (b"\xff\xd8jpeg-bytes", "image/jpeg")
    assert filename.endswith(".jpg")
    download = graph.calls("GET", "/whatsapp_business/attachments")[0]
    assert download.headers["authorization"] == f"Bearer {graph.access_token}"


def test_fetch_media_of_a_deleted_file_is_permanent(graph):
    message = InboundMessage(provider_message_id="wamid.x", contact=None, timestamp=0, type="image",
                             media={"media_id": "999", "mime": "image/jpeg"})
    with pytest.raises(PermanentProviderError, match="does not exist"):
        PROVIDER.fetch_media(make_connection(graph), message)
