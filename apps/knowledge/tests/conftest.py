"""Fixtures of the knowledge tests: English messages, uploads in a temporary MEDIA_ROOT, the store
FAQ of data/faq_frios.json, and the fake OpenAI server as the tenant's embedding endpoint."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.utils import translation
from django_tenants.utils import schema_context

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def _forget_media_root():
    # django-tenants' storage caches MEDIA_ROOT and its setting_changed hook does not clear it.
    from django.core.files.storage import storages

    storages["default"].__dict__.pop("relative_media_root", None)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    _forget_media_root()
    yield
    _forget_media_root()


def load_faq() -> dict:
    return json.loads((DATA / "faq_frios.json").read_text(encoding="utf-8"))


def faq_document_text(document: dict) -> str:
    return "\n\n".join(f"{entry['q']}\n{entry['a']}" for entry in document["entries"])


def add_text_document(title: str, content: str, *, category: str = ""):
    """A typed document, ingested now (the task would run after commit, which a test never reaches)."""
    from apps.knowledge.models import Document
    from apps.knowledge.services import document_create_text, document_ingest

    document = document_create_text(title=title, content=content, category=category)
    document_ingest(document.pk, document.version)
    return Document.objects.get(pk=document.pk)


def add_faq(faq: dict | None = None) -> dict:
    """The FAQ's documents in the current schema; returns entry id -> (document, answer)."""
    faq = faq or load_faq()
    where = {}
    for spec in faq["documents"]:
        document = add_text_document(spec["title"], faq_document_text(spec), category=spec["category"])
        assert document.status == "ready", document.error
        for entry in spec["entries"]:
            where[entry["id"]] = (document, entry["a"])
    return where


@pytest.fixture
def faq():
    return load_faq()


@pytest.fixture
def alpha_faq(tenant, faq):
    with schema_context(tenant.schema_name):
        return add_faq(faq)


@pytest.fixture
def fake_openai():
    from tests.fakes.openai_server import FakeOpenAI

    with FakeOpenAI() as fake:
        yield fake


def use_embeddings(fake) -> None:
    """Make ``fake`` the current tenant's default provider, with an embedding model."""
    from apps.agents.models import ModelProvider
    from tests.fakes.openai_server import API_KEY, EMBEDDING_MODEL

    ModelProvider.objects.filter(is_default=True).update(is_default=False)
    ModelProvider.objects.create(name="Fake", base_url=fake.base_url, api_key=API_KEY, model="gpt-4o-mini",
                                 embedding_model=EMBEDDING_MODEL, is_default=True, timeout_seconds=5)


@pytest.fixture
def site():
    """A web server on 127.0.0.1 serving PAGE at /page (add routes as needed)."""
    from .site import PAGE, Site

    server = Site()
    server.routes["/page"] = (200, {"Content-Type": "text/html; charset=utf-8"}, PAGE.encode())
    yield server
    server.stop()
