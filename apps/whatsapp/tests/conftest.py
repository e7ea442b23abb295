"""Fixtures shared by the whatsapp tests: the fake providers, with the settings pointing at them."""
from __future__ import annotations

import pytest

from tests.fakes import cloud_api as fake_cloud
from tests.fakes.evolution import FakeEvolution


@pytest.fixture
def evo(settings):
    """A fake Evolution API v2 server that the provider reaches through the global settings."""
    with FakeEvolution(deliver_webhooks=False) as fake:
        settings.EVOLUTION_API_URL = fake.url
        settings.EVOLUTION_API_KEY = fake.api_key
        yield fake


@pytest.fixture
def graph(settings):
    """A fake Graph API that the Cloud API provider reaches through the global settings."""
    with fake_cloud.FakeGraphApi() as fake:
        settings.WHATSAPP_GRAPH_API_URL = fake.url
        settings.WHATSAPP_GRAPH_API_VERSION = fake.version
        yield fake
