"""Vectors of the size the Chunk table stores (``EMBEDDING_DIMENSIONS``), whatever the model's.

Shorter embeddings are zero-padded: padding changes neither dot products nor norms, so cosine
similarity is exactly preserved. Longer ones are asked for again with ``dimensions=`` (OpenAI's
text-embedding-3 models shorten natively); a model that still answers longer cannot be stored.
Documents and questions go through the same function, so both always land in the same space.
"""
from __future__ import annotations

from django.utils.translation import gettext as _

from apps.agents.llm import LLMAuthError, LLMClient, LLMError

from .models import EMBEDDING_DIMENSIONS

BATCH_SIZE = 64  # texts per request: ~64 x 800 characters stays far below the providers' limits

# (base_url, embedding model) pairs known to answer too long unless asked for ``dimensions``.
_ASK_FOR_DIMENSIONS: set[tuple[str, str]] = set()


class EmbeddingError(Exception):
    """No usable vectors; the message is readable."""


def _fit(vector: list[float]) -> list[float]:
    if len(vector) < EMBEDDING_DIMENSIONS:
        return list(vector) + [0.0] * (EMBEDDING_DIMENSIONS - len(vector))
    return list(vector)


def embed(client: LLMClient, texts: list[str]) -> list[list[float]]:
    """One request's worth of ``texts`` as EMBEDDING_DIMENSIONS-long vectors; EmbeddingError."""
    if not texts:
        return []
    key = (client.base_url, client.embedding_model)
    try:
        vectors = client.embed(texts, dimensions=EMBEDDING_DIMENSIONS if key in _ASK_FOR_DIMENSIONS else None)
        if any(len(v) > EMBEDDING_DIMENSIONS for v in vectors) and key not in _ASK_FOR_DIMENSIONS:
            _ASK_FOR_DIMENSIONS.add(key)
            vectors = client.embed(texts, dimensions=EMBEDDING_DIMENSIONS)
    except LLMAuthError:  # its message may quote part of the key: say it in our words
        raise EmbeddingError(_("the embedding endpoint refused the API key")) from None
    except LLMError as exc:
        raise EmbeddingError(_("the embedding endpoint failed (%(error)s)") % {"error": str(exc)[:200]}) from None
    if len(vectors) != len(texts) or any(not v for v in vectors):
        raise EmbeddingError(_("the embedding endpoint answered with the wrong number of vectors"))
    longest = max(len(v) for v in vectors)
    if longest > EMBEDDING_DIMENSIONS:
        raise EmbeddingError(_("the embedding model answers vectors of %(size)s dimensions; at most %(limit)s can "
                               "be stored") % {"size": longest, "limit": EMBEDDING_DIMENSIONS})
    return [_fit(v) for v in vectors]


def embed_many(client: LLMClient, texts: list[str], *, on_batch=None) -> list[list[float]]:
    """All ``texts`` in batches; ``on_batch(done, total)`` after each (progress bars)."""
    vectors: list[list[float]] = []
    for start in range(0, len(texts), BATCH_SIZE):
        vectors.extend(embed(client, texts[start:start + BATCH_SIZE]))
        if on_batch:
            on_batch(len(vectors), len(texts))
    return vectors


def vector_literal(vector: list[float]) -> str:
    """pgvector's text form, for raw SQL."""
    return "[" + ",".join(f"{float(v):.7g}" for v in vector) + "]"
