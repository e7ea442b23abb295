"""Model providers: the key is stored encrypted, never rendered, never echoed back after a form
error, kept when the field is left blank and cleared on request; the "Test" button makes a real
call to a fake OpenAI-compatible server and shows the answer or the provider's own error, and
records the outcome on the provider."""
from __future__ import annotations

import pytest
from django.db import connection
from django.utils import translation
from django.utils.html import escape
from django_tenants.utils import schema_context

from apps.agents.models import Assistant, ModelProvider
from apps.agents.services import assistants as assistant_services
from apps.agents.services import providers as services
from conftest import as_shown
from tests.fakes.openai_server import API_KEY, FakeOpenAI, error, reply

OTHER_KEY = "sk-live-another-9876543210zyxwvu"


@pytest.fixture
def fake_openai():
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def english():
    with translation.override("en"):
        yield


def _html(response) -> str:
    return response.content.decode()


def _raw_key(pk) -> str:
    with schema_context("alpha"), connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM agents_modelprovider WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def _provider(**fields) -> ModelProvider:
    data = {"name": "OpenAI", "base_url": "https://api.openai.com/v1", "model": "gpt-4o-mini", "api_key": API_KEY}
    data.update(fields)
    with schema_context("alpha"):
        return services.provider_create(**data)


def _form(**overrides) -> dict:
    data = {"name": "OpenAI", "base_url": "https://api.openai.com/v1", "model": "gpt-4o-mini", "api_key": "",
            "embedding_model": "", "temperature": "0.3", "max_tokens": "600", "timeout_seconds": "30",
            "price_in_per_1k": "0.00015", "price_out_per_1k": "0.0006"}
    data.update(overrides)
    return data


# --- the key -------------------------------------------------------------------------------------

def test_key_is_stored_encrypted_and_never_rendered(owner_client):
    response = owner_client.post("/ai/providers/new/", _form(api_key=API_KEY), follow=True)
    assert response.status_code == 200
    with schema_context("alpha"):
        provider = ModelProvider.objects.get(name="OpenAI")
        assert provider.api_key == API_KEY  # the model decrypts it
        assert provider.is_default  # the first provider becomes the default
    raw = _raw_key(provider.pk)
    assert raw and raw != API_KEY and API_KEY not in raw
    for url in ("/ai/providers/", f"/ai/providers/{provider.pk}/", "/ai/", "/api/v1/ai/providers/"):
        html = _html(owner_client.get(url))
        assert API_KEY not in html, url
        assert API_KEY[8:-4] not in html, url
    assert services.scrub(API_KEY, API_KEY) in _html(owner_client.get("/ai/providers/"))  # the mask is shown


def test_form_error_does_not_echo_the_key(owner_client):
    response = owner_client.post("/ai/providers/new/", _form(api_key=API_KEY, temperature="5"))
    assert response.status_code == 400
    assert API_KEY not in _html(response)
    with schema_context("alpha"):
        assert not ModelProvider.objects.exists()


def test_blank_key_keeps_the_stored_one_and_remove_clears_it(owner_client):
    provider = _provider()
    assert owner_client.post(f"/ai/providers/{provider.pk}/", _form(name="OpenAI 2")).status_code == 302
    with schema_context("alpha"):
        provider.refresh_from_db()
        assert (provider.name, provider.api_key) == ("OpenAI 2", API_KEY)
    owner_client.post(f"/ai/providers/{provider.pk}/", _form(api_key=OTHER_KEY))
    with schema_context("alpha"):
        provider.refresh_from_db()
        assert provider.api_key == OTHER_KEY
        assert provider.status == ModelProvider.Status.UNTESTED
    owner_client.post(f"/ai/providers/{provider.pk}/", _form(remove_key="on"))
    with schema_context("alpha"):
        provider.refresh_from_db()
        assert provider.api_key == "" and not provider.has_key


def test_typing_a_key_and_removing_it_at_once_is_refused(owner_client):
    provider = _provider()
    response = owner_client.post(f"/ai/providers/{provider.pk}/", _form(api_key=OTHER_KEY, remove_key="on"))
    assert response.status_code == 400
    assert OTHER_KEY not in _html(response)
    with schema_context("alpha"):
        provider.refresh_from_db()
        assert provider.api_key == API_KEY


@pytest.mark.parametrize("overrides", [
    {"temperature": "2.5"}, {"temperature": "-1"}, {"max_tokens": "0"}, {"timeout_seconds": "0"},
    {"price_in_per_1k": "-0.1"}, {"base_url": "ftp://example.com"}, {"base_url": "not a url"}, {"model": ""},
    {"name": ""},
])
def test_provider_validation(owner_client, overrides):
    response = owner_client.post("/ai/providers/new/", _form(**overrides))
    assert response.status_code == 400
    assert 'data-testid="form-errors"' in _html(response)
    with schema_context("alpha"):
        assert not ModelProvider.objects.exists()


def test_only_one_default_provider(owner_client):
    first = _provider(name="A")
    second = _provider(name="B", is_default=True)
    with schema_context("alpha"):
        assert list(ModelProvider.objects.filter(is_default=True).values_list("pk", flat=True)) == [second.pk]
        services.provider_update(provider=first, is_default=True)
        assert list(ModelProvider.objects.filter(is_default=True).values_list("pk", flat=True)) == [first.pk]


def test_delete_provider_falls_back(owner_client):
    provider = _provider()
    assert owner_client.get(f"/ai/providers/{provider.pk}/delete/").status_code == 200
    assert owner_client.post(f"/ai/providers/{provider.pk}/delete/").status_code == 302
    with schema_context("alpha"):
        assert not ModelProvider.objects.exists()


# --- the Test button -----------------------------------------------------------------------------

def test_test_button_success(owner_client, fake_openai):
    provider = _provider(base_url=fake_openai.base_url)
    fake_openai.script(reply("OK"))
    response = owner_client.post(f"/ai/providers/{provider.pk}/test/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = _html(response)
    assert 'data-testid="test-result" data-ok="1"' in html
    assert "“OK”" in html
    assert API_KEY not in html
    # a real chat completion with the provider's model and key
    [request] = fake_openai.requests
    assert request["path"].endswith("/chat/completions")
    assert {k.lower(): v for k, v in request["headers"].items()}["authorization"] == f"Bearer {API_KEY}"
    assert request["body"]["model"] == "gpt-4o-mini"
    with schema_context("alpha"):
        provider.refresh_from_db()
        assert provider.status == ModelProvider.Status.OK and provider.last_error == ""


def test_test_button_shows_the_providers_401(owner_client, fake_openai):
    provider = _provider(base_url=fake_openai.base_url, api_key=OTHER_KEY)
    response = owner_client.post(f"/ai/providers/{provider.pk}/test/", HTTP_HX_REQUEST="true")
    html = _html(response)
    assert 'data-ok="0"' in html
    assert "Incorrect API key provided" in html  # the provider's own words
    assert escape(as_shown(response, "The provider refused the API key: %(detail)s").split("%")[0]) in html
    assert OTHER_KEY not in html
    with schema_context("alpha"):
        provider.refresh_from_db()
        assert provider.status == ModelProvider.Status.ERROR
        assert "Incorrect API key provided" in provider.last_error
        assert OTHER_KEY not in provider.last_error
    # the card shows the error state after a reload too
    assert 'data-testid="provider-status-error"' in _html(owner_client.get("/ai/providers/"))


def test_test_button_without_htmx_redirects_with_a_message(owner_client, fake_openai):
    provider = _provider(base_url=fake_openai.base_url)
    fake_openai.script(error(500))
    response = owner_client.post(f"/ai/providers/{provider.pk}/test/", follow=True)
    assert response.status_code == 200
    assert "The server had an error while processing your request." in _html(response)


def test_test_button_unreachable_server(owner_client, english):
    import socket

    with socket.socket() as sock:  # a port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = _provider(base_url=f"http://127.0.0.1:{port}/v1")
    with schema_context("alpha"):
        result = services.provider_test(provider=provider)
    assert not result.ok
    assert result.message == "Could not reach the base URL. Check the address and that the server is running."


def test_test_timeout_is_short(fake_openai, english, tenant):
    provider = _provider(base_url=fake_openai.base_url, timeout_seconds=1)
    fake_openai.script(reply("late", delay=1.5))
    with schema_context("alpha"):
        result = services.provider_test(provider=provider)
    assert not result.ok
    assert result.message == "The model did not answer in time (1 s)."


def test_successful_test_clears_the_assistant_error_state(fake_openai, tenant):
    provider = _provider(base_url=fake_openai.base_url)
    with schema_context("alpha"):
        assistant = assistant_services.assistant_create(name="Ana")
        Assistant.objects.filter(pk=assistant.pk).update(status="error", last_error="invalid key")
        ModelProvider.objects.filter(pk=provider.pk).update(error_notified_at="2025-01-01T00:00:00Z")
        assert services.provider_test(provider=provider).ok
        assistant.refresh_from_db()
        provider.refresh_from_db()
    assert (assistant.status, assistant.last_error) == ("ok", "")
    assert provider.error_notified_at is None


def test_agent_cannot_test_or_edit(tenant, fake_openai):
    from apps.accounts.roles import Role
    from apps.inbox.tests.helpers_inbox import login
    from conftest import make_user

    provider = _provider(base_url=fake_openai.base_url)
    agent = login(tenant, make_user(tenant, email="agent@alpha.test", role=Role.AGENT))
    assert agent.post(f"/ai/providers/{provider.pk}/test/").status_code == 403
    assert agent.post(f"/ai/providers/{provider.pk}/", _form(api_key=OTHER_KEY)).status_code == 403
    assert fake_openai.requests == []


# --- scrubbing -----------------------------------------------------------------------------------

def test_scrub_hides_the_key_and_its_long_slices():
    text = f"bad key {API_KEY} (starts {API_KEY[:12]}...)"
    clean = services.scrub(text, API_KEY)
    assert API_KEY not in clean and API_KEY[:12] not in clean
    assert services.scrub("nothing secret", API_KEY) == "nothing secret"
    assert services.scrub("", API_KEY) == ""
