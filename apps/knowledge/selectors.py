"""Reads of the knowledge base, retrieval first (contract; implemented by the knowledge-core owner)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ScoredChunk:
    chunk_id: int
    document_id: int
    title: str
    text: str
    score: float  # fused (reciprocal-rank) score used for ordering
    fts_rank: float | None = None
    vector_score: float | None = None  # cosine similarity 0..1 when vectors were used

    def as_dict(self) -> dict:
        return {"chunk_id": self.chunk_id, "document_id": self.document_id, "title": self.title,
                "text": self.text, "score": round(self.score, 4),
                "fts_rank": None if self.fts_rank is None else round(self.fts_rank, 4),
                "vector_score": None if self.vector_score is None else round(self.vector_score, 4)}


@dataclass
class SearchResult:
    query: str
    chunks: list[ScoredChunk] = field(default_factory=list)
    confidence: float = 0.0  # 0..1, documented in search()
    mode: str = "fts"  # "fts" or "hybrid"


def search(query: str, *, document_ids: list[int] | None = None, limit: int = 5) -> SearchResult:
    """Hybrid retrieval in the current tenant schema over ready documents (``document_ids`` limits
    it to an assistant's bound documents; None = all)."""
    raise NotImplementedError


def max_document_chars() -> int:
    """The current tenant's per-document character limit (settings, raised by the plan)."""
    raise NotImplementedError
