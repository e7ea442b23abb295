"""A tenant's model endpoint may not point into our own network (SSRF): in production a base URL
on a loopback, private or link-local address is refused when saved, and a provider stored before
the rule (or re-pointed by DNS) is refused at call time; the customer still gets the fallback and
a human."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from apps.agents.llm import LLMEndpointRefused, client_for
from apps.agents.services import providers as provider_services
from apps.agents.tests.conftest import customer_turn, last_decision, make_assistant, make_document, make_provider
from apps.inbox.tests.helpers_inbox import make_contact, make_conversation


@pytest.fixture(autouse=True)
def _production_rule(settings):
    settings.AI_ALLOW_PRIVATE_ENDPOINTS = False
    with translation.override("en"):
        yield


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:11434/v1", "http://localhost/v1", "http://10.0.0.5/v1",
                                      "http://169.254.169.254/latest", "http://[::1]:8000/v1"])
def test_saving_a_private_base_url_is_refused(alpha, base_url):
    with pytest.raises(ValidationError) as info:
        provider_services.provider_create(name="Local", base_url=base_url, api_key="sk-x")
    assert "private or local network" in str(info.value)
    from apps.agents.models import ModelProvider

    assert not ModelProvider.objects.exists()


def test_a_public_address_is_accepted(alpha):
    provider = provider_services.provider_create(name="Public", base_url="http://93.184.216.34/v1", api_key="sk-x")
    assert client_for(provider).base_url == "http://93.184.216.34/v1"


def test_a_stored_private_endpoint_is_never_called_and_the_customer_gets_a_human(alpha, fake_llm):
    make_provider(fake_llm)  # points at 127.0.0.1 (stored before the rule applied)
    make_assistant()
    make_document("Horário de funcionamento", "Horário de funcionamento aos domingos: das 8h às 13h.")
    conversation = make_conversation(contact=make_contact("Maria Souza"), last_message_at=None)
    with pytest.raises(LLMEndpointRefused):
        from apps.agents.models import ModelProvider

        client_for(ModelProvider.objects.get())
    customer_turn(conversation, "Qual o horário de funcionamento aos domingos?")
    assert fake_llm.chat_requests() == []
    conversation.refresh_from_db()
    assert conversation.bot_state == "waiting_human"
    decision = last_decision(conversation)
    assert (decision.action, decision.reason) == ("error", "model_endpoint_refused")
