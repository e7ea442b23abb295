"""Reads shared by the turn pipeline, the pages and the knowledge base."""
from __future__ import annotations

from .llm import LLMClient, client_for
from .models import Assistant, ModelProvider


def default_provider() -> ModelProvider | None:
    return ModelProvider.objects.filter(is_default=True).first()


def provider_for(assistant: Assistant | None) -> ModelProvider | None:
    """The provider an assistant calls: its own, else the tenant's default (None: none configured)."""
    if assistant is not None and assistant.provider_id:
        return assistant.provider
    return default_provider()


def is_generative(assistant: Assistant | None) -> bool:
    """True when the assistant has a provider with a key; otherwise it runs retrieval-only."""
    provider = provider_for(assistant)
    return provider is not None and provider.has_key


def assistant_for_conversation(conversation) -> Assistant | None:
    """The connection's default assistant when active, else the tenant's default active one."""
    connection = conversation.connection
    if connection.default_assistant_id:
        assistant = Assistant.objects.filter(pk=connection.default_assistant_id, is_active=True).first()
        if assistant is not None:
            return assistant
    return Assistant.objects.filter(is_active=True).order_by("-is_default", "pk").first()


def embedding_client() -> LLMClient | None:
    """The client that embeds knowledge and questions: the tenant's default provider when it has a
    key and an embedding model; None means full-text search only."""
    provider = default_provider()
    if provider is None or not provider.has_key or not provider.embedding_model:
        return None
    from .llm import LLMError

    try:
        return client_for(provider)
    except LLMError:  # an endpoint refused (private network): search stays full-text
        return None
