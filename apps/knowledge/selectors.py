"""Reads of the knowledge base, retrieval first.

Retrieval runs in the current tenant's schema (its own ``knowledge_chunk`` table: another tenant's
chunks are not reachable from here) over the chunks of searchable documents: ready ones, plus
documents being re-processed that were ready before (their previous chunks stay searchable until
the new set replaces them in one transaction).
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import FloatField, Q, Value
from pgvector.django import CosineDistance

from .models import Chunk, Document, DocumentStatus

logger = logging.getLogger(__name__)

# Tenant.language -> PostgreSQL text search configuration.
SEARCH_CONFIGS = {"pt-br": "portuguese", "pt": "portuguese", "en": "english", "es": "spanish"}
DEFAULT_SEARCH_CONFIG = "portuguese"

CANDIDATES = 20  # per list (full text, vectors) before fusion
RRF_K = 60  # reciprocal rank fusion constant (Cormack et al.)
MAX_QUERY_CHARS = 2000
MAX_QUERY_LEXEMES = 32
HNSW_EF_SEARCH = 80  # candidates the HNSW walk keeps: > CANDIDATES, for recall with filters
EXACT_VECTORS_UP_TO = 2000  # chunks: below this an exact scan beats the (approximate) HNSW walk

# Words of a question that say nothing about its subject ("could you tell me whether you..."),
# on top of the configuration's stop words. They are stemmed with the same configuration at query
# time, so they are written as plain words. A question made only of them finds nothing.
FILLER_WORDS = {
    "portuguese": "você vocês voce voces vc vcs cê qual quais quanto quanta quantos quantas como quando onde "
                  "porque posso pode podem podemos poderia poderiam consigo consegue gostaria queria quero "
                  "saber sabe sei dizer diz informar informação informações favor olá ola oi obrigado obrigada "
                  "boa bom tarde noite ainda sobre algum alguma alguns algumas aí aqui lá pra pro tá "
                  "existe existem tenho ter têm tem preciso está estão estou vou vai sou dá dar faz fazem faço "
                  "fazer sai hoje agora então",
    "english": "you your can could would should may might please tell know hello hi thanks thank there "
               "which what when where how who whom why any some get got want like need",
    "spanish": "usted ustedes vos tú cuál cuáles cuánto cuánta cuántos cuántas cómo cuándo dónde puedo puede "
               "pueden podría quisiera quiero saber decir favor hola gracias buenas buenos tienen tiene tengo "
               "hay algún alguna algunos algunas aquí allí",
}


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


# --- tenant settings -----------------------------------------------------------------------------

def current_tenant():
    """The Tenant row of the schema in use (schema_context() leaves only a stand-in on the
    connection), or None in the public schema."""
    from tenants.models import Tenant

    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Tenant) and tenant.schema_name == connection.schema_name:
        return tenant
    schema = connection.schema_name
    if not schema or schema == "public":
        return None
    return Tenant.objects.select_related("plan").filter(schema_name=schema).first()


def search_config(tenant=None) -> str:
    """The text search configuration of the tenant's language (portuguese, english, spanish)."""
    tenant = tenant if tenant is not None else current_tenant()
    language = (getattr(tenant, "language", "") or "").lower()
    return SEARCH_CONFIGS.get(language) or SEARCH_CONFIGS.get(language.split("-")[0]) or DEFAULT_SEARCH_CONFIG


def max_document_chars() -> int:
    """The current tenant's per-document character limit (settings, raised by the plan)."""
    limit = int(settings.KNOWLEDGE_MAX_DOCUMENT_CHARS)
    tenant = current_tenant()
    if tenant is not None and tenant.plan_id:
        from apps.billing.selectors import plan_limit

        # An empty plan limit means "no raise", not "unlimited": one huge document would only
        # bury the rest of the knowledge base and cost embeddings.
        limit = max(limit, plan_limit(tenant, "knowledge_chars_per_document") or 0)
    return limit


# --- retrieval -----------------------------------------------------------------------------------

def _searchable() -> Q:
    return Q(document__status=DocumentStatus.READY) | Q(
        document__status__in=[DocumentStatus.PENDING, DocumentStatus.PROCESSING], document__ingested_at__isnull=False)


_SEARCHABLE_SQL = ("(d.status = 'ready' OR (d.status IN ('pending', 'processing') AND d.ingested_at IS NOT NULL))")


def query_lexemes(query: str, config: str) -> list[str]:
    """The distinct lexemes of ``query`` as the chunks were indexed (lower-cased, accents folded,
    stemmed, stop words and FILLER_WORDS removed)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT lexeme FROM unnest(to_tsvector(%(cfg)s::regconfig, public.fold_accents(lower(%(q)s)))) "
            "EXCEPT SELECT lexeme FROM unnest(to_tsvector(%(cfg)s::regconfig, public.fold_accents(lower(%(f)s))))",
            {"cfg": config, "q": query, "f": FILLER_WORDS.get(config, "")},
        )
        lexemes = sorted(row[0] for row in cursor.fetchall())
    return lexemes[:MAX_QUERY_LEXEMES]


# Lexemes at least this long also match as prefixes: the Portuguese stemmer leaves many
# inflections apart ("portugu" for português, "portugues" for portugueses).
PREFIX_MIN = 5


def _tsquery(lexemes: list[str]) -> str:
    """``'a' | 'b':* | ...`` in tsquery input syntax (lexemes taken as they are, not re-stemmed)."""
    return " | ".join("'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"
                      + (":*" if len(lexeme) >= PREFIX_MIN else "") for lexeme in lexemes)


def _matches(lexeme: str, chunk_lexemes: set[str]) -> bool:
    if lexeme in chunk_lexemes:
        return True
    return len(lexeme) >= PREFIX_MIN and any(other.startswith(lexeme) for other in chunk_lexemes)


def _doc_filter_sql(document_ids) -> str:
    return "" if document_ids is None else " AND c.document_id = ANY(%(ids)s)"


# Full text on a large knowledge base: a question's common words ("queijo" in half the chunks)
# would make PostgreSQL rank most of the table. Candidates therefore come from the question's
# rarer lexemes (frequencies from the planner's statistics on search_vector), about
# CANDIDATE_BUDGET rows' worth, plus the conjunction of the common ones when that is selective;
# every lexeme still counts in the ranking. At most CANDIDATE_CAP matching rows are ranked, so a
# question made only of very common words costs a bounded amount (ranked among a sample).
CANDIDATE_BUDGET = 2000
CANDIDATE_CAP = 4000
RERANK = 100
STATS_TTL_SECONDS = 300
_stats_cache: dict[str, tuple[float, "TableStats"]] = {}


@dataclass
class TableStats:
    rows: int  # live chunks of the schema (pg_stat_user_tables.n_live_tup: follows commits and rollbacks)
    frequencies: dict[str, float] | None  # lexeme -> share of chunks containing it (None: not analysed)
    floor: float  # share assumed for lexemes the statistics do not list


def _table_stats() -> TableStats:
    """Size and lexeme statistics of the current schema's chunks (cached STATS_TTL_SECONDS)."""
    schema = connection.schema_name
    cached = _stats_cache.get(schema)
    if cached and time.monotonic() - cached[0] < STATS_TTL_SECONDS:
        return cached[1]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.n_live_tup, s.most_common_elems::text::text[], s.most_common_elem_freqs "
            "FROM pg_stat_user_tables t LEFT JOIN pg_stats s ON s.schemaname = t.schemaname "
            "AND s.tablename = t.relname AND s.attname = 'search_vector' "
            "WHERE t.schemaname = %s AND t.relname = %s",
            [schema, Chunk._meta.db_table])
        row = cursor.fetchone()
    stats = TableStats(rows=int(row[0] or 0) if row else 0, frequencies=None, floor=0.0)
    if row and row[1] and row[2]:
        elements, freqs = row[1], row[2]
        # most_common_elem_freqs ends with the minimum, maximum and null frequencies
        stats.floor = float(freqs[len(elements)]) if len(freqs) > len(elements) else 0.0
        stats.frequencies = {e: float(f) for e, f in zip(elements, freqs)}
    _stats_cache[schema] = (time.monotonic(), stats)
    return stats


def _candidate_query(lexemes: list[str]) -> str:
    """The tsquery that selects candidates (see CANDIDATE_BUDGET); all lexemes when the table is
    small or not analysed yet."""
    stats = _table_stats()
    if stats.frequencies is None or stats.rows <= CANDIDATE_CAP:  # small: rank every match
        return _tsquery(lexemes)
    rows, frequencies, floor = stats.rows, stats.frequencies, stats.floor

    def share(lexeme: str) -> float:
        if len(lexeme) >= PREFIX_MIN:  # a prefix matches every lexeme it starts
            listed = sum(f for e, f in frequencies.items() if e.startswith(lexeme))
            return min(1.0, listed) if listed else floor / 2
        return frequencies.get(lexeme, floor / 2)

    estimate = {lexeme: rows * share(lexeme) for lexeme in lexemes}
    chosen, total = [], 0.0
    for lexeme in sorted(lexemes, key=lambda lx: estimate[lx]):
        if chosen and total + estimate[lexeme] > CANDIDATE_BUDGET:
            break
        chosen.append(lexeme)
        total += estimate[lexeme]
    parts = [_tsquery([lexeme]) for lexeme in chosen]
    common = [lexeme for lexeme in lexemes if lexeme not in chosen]
    if len(common) >= 2 and rows * math.prod(share(lx) for lx in common) <= CANDIDATE_BUDGET:
        parts.append("(" + " & ".join(_tsquery([lexeme]) for lexeme in common) + ")")
    return " | ".join(parts)


def fts_candidates_sql(lexemes: list[str], document_ids, k: int) -> tuple[str, dict]:
    """The full-text candidate query (public for the benchmark's EXPLAIN).

    Rows matching the candidate query (see CANDIDATE_BUDGET) are ordered by how many distinct
    lexemes of the question they contain, then by ``ts_rank_cd`` (cover density, normalisation
    32). The count matters: for an OR query ts_rank_cd rewards repeating one word as much as
    matching several ("muçarela" five times would beat "muçarela de búfala"). ts_rank_cd costs
    about ten times ts_rank, so the cheaper ts_rank picks the best RERANK rows first and only
    those get ts_rank_cd."""
    params: dict = {"tsq": _tsquery(lexemes), "candidates": _candidate_query(lexemes),
                    "ids": list(document_ids or []), "k": k, "cap": CANDIDATE_CAP, "rerank": max(RERANK, k)}
    matched = []
    for i, lexeme in enumerate(lexemes):
        params[f"l{i}"] = _tsquery([lexeme])
        matched.append(f"(c.search_vector @@ %(l{i})s::tsquery)::int")
    sql = (
        f"SELECT t.id, ts_rank_cd(t.search_vector, t.query, 32) AS rank, t.matched FROM ("
        f"SELECT c.id, c.search_vector, q.query, {' + '.join(matched)} AS matched, "
        f"ts_rank(c.search_vector, q.query, 32) AS quick "
        f"FROM (SELECT c.id, c.search_vector FROM {Chunk._meta.db_table} c "
        f"JOIN {Document._meta.db_table} d ON d.id = c.document_id "
        f"WHERE c.search_vector @@ %(candidates)s::tsquery AND {_SEARCHABLE_SQL}{_doc_filter_sql(document_ids)} "
        f"LIMIT %(cap)s) c, (SELECT %(tsq)s::tsquery AS query) q "
        f"ORDER BY matched DESC, quick DESC LIMIT %(rerank)s) t "
        f"ORDER BY t.matched DESC, rank DESC, t.id LIMIT %(k)s"
    )
    return sql, params


def _fts_candidates(lexemes: list[str], document_ids, k: int) -> list[tuple[int, float]]:
    sql, params = fts_candidates_sql(lexemes, document_ids, k)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(row[0], float(row[1])) for row in cursor.fetchall()]


def _vector_candidates(vector: list[float], document_ids, k: int) -> list[tuple[int, float]]:
    """Nearest chunks by cosine distance through the HNSW index (``ORDER BY embedding <=> q
    LIMIT k``); iterative scans keep filling the list when filters drop index hits. Small
    knowledge bases (EXACT_VECTORS_UP_TO) are scanned exactly instead.

    An HNSW graph can lose its way among deleted entries (re-ingestion replaces chunks; the graph
    is only repaired by VACUUM) and return fewer rows than exist. When it returns fewer than
    ``k``, the knowledge base (or the allowed part of it) is small, so an exact scan is cheap and
    gives the true nearest ones: ``+ 0`` keeps the planner off the index."""
    chunks = Chunk.objects.filter(_searchable(), embedding__isnull=False)
    if document_ids is not None:
        chunks = chunks.filter(document_id__in=list(document_ids))
    distance = CosineDistance("embedding", vector)
    exact = distance + Value(0.0, output_field=FloatField())
    if _table_stats().rows <= EXACT_VECTORS_UP_TO:  # small: exact is cheap, and HNSW is approximate
        rows = list(chunks.annotate(distance=distance).order_by(exact).values_list("id", "distance")[:k])
        return [(row[0], float(row[1])) for row in rows]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('hnsw.ef_search', %s, true), "
                           "set_config('hnsw.iterative_scan', 'relaxed_order', true)", [str(HNSW_EF_SEARCH)])
        rows = list(chunks.annotate(distance=distance).order_by("distance").values_list("id", "distance")[:k])
    if len(rows) < k:
        rows = list(chunks.annotate(distance=distance).order_by(exact).values_list("id", "distance")[:k])
    rows.sort(key=lambda row: row[1])  # relaxed_order may return slightly out of order
    return [(row[0], float(row[1])) for row in rows]


def _query_vector(query: str) -> list[float] | None:
    """The question's embedding, or None (no endpoint configured, or it failed: full text only)."""
    from apps.agents.selectors import embedding_client

    from .embeddings import EmbeddingError, embed

    try:
        client = embedding_client()
    except Exception:  # noqa: BLE001 - a broken provider row must not break search
        logger.exception("knowledge: embedding client unavailable")
        return None
    if client is None:
        return None
    try:
        return embed(client, [query])[0]
    except EmbeddingError as exc:
        logger.warning("knowledge: query embedding failed, full-text only: %s", exc)
        return None


# Cosine similarity of an embedding model between a question and a passage, mapped to 0..1: below
# VECTOR_FLOOR counts as unrelated (0), VECTOR_CEILING and above as a sure match (1). Calibrated
# for OpenAI-style models (text-embedding-3-*), where unrelated text scores about 0.1-0.25 and a
# passage that answers the question 0.5 and above.
VECTOR_FLOOR = 0.25
VECTOR_CEILING = 0.65


def _coverage(query_lexemes: list[str], chunk_lexemes) -> float:
    """Share of the question's lexemes found in the chunk, shrunk a little for short questions
    (one matching word out of two is weak evidence; three out of three is strong)."""
    if not query_lexemes:
        return 0.0
    present = set(chunk_lexemes or ())
    matched = sum(1 for lexeme in query_lexemes if _matches(lexeme, present))
    return matched / (len(query_lexemes) + 0.25)


def _vector_confidence(similarity: float | None) -> float:
    if similarity is None:
        return 0.0
    return min(1.0, max(0.0, (similarity - VECTOR_FLOOR) / (VECTOR_CEILING - VECTOR_FLOOR)))


def search(query: str, *, document_ids: list[int] | None = None, limit: int = 5,
           use_vectors: bool = True, query_vector: list[float] | None = None) -> SearchResult:
    """Hybrid retrieval in the current tenant schema over searchable documents (``document_ids``
    limits it to an assistant's bound documents; None = all, an empty list = none).

    1. Full text, always: the question becomes lexemes exactly as chunks were indexed
       (``to_tsvector(<tenant language>, fold_accents(lower(q)))``, so accents and inflections do
       not matter; lexemes of 5+ letters also match as prefixes), minus stop words and filler
       words; the chunks matching ANY of them (an OR query, so a natural question matches) are
       ranked by how many distinct lexemes they match, then ``ts_rank_cd(..., 32)``: top 20.
       On a large knowledge base the candidates come from the question's rarer words, so common
       ones cannot make it rank half the table (see CANDIDATE_BUDGET).
    2. Vectors, when the tenant has an embedding endpoint (and ``use_vectors``): the question is
       embedded once and the 20 nearest chunks by cosine distance come from the HNSW index. If
       the embedding call fails, search carries on with full text alone (mode "fts").
    3. The two lists are fused by reciprocal rank (score = sum of 1 / (60 + rank)); mode "hybrid"
       when vectors took part.

    Confidence (0..1), how sure we are that the passages answer the question:
    - coverage: for each returned chunk, the share of the question's distinct lexemes it contains,
      ``matched / (n + 0.25)`` (the 0.25 keeps a one-word match out of two below 0.5); the best
      returned chunk counts;
    - with vectors, also the best returned chunk's cosine similarity mapped to 0..1 between
      VECTOR_FLOOR (0.25 -> 0) and VECTOR_CEILING (0.65 -> 1); the confidence is the larger of
      the two, so a paraphrase with no word in common can still score.
    A question sharing no meaningful word with the knowledge (off-topic) scores 0 with full text;
    an empty or stop-word-only question returns no chunks and confidence 0.

    ``use_vectors=False`` forces full text only; ``query_vector`` (already EMBEDDING_DIMENSIONS
    long) skips the embedding call, e.g. when the caller embedded the question already.
    """
    text = (query or "").strip()[:MAX_QUERY_CHARS]
    result = SearchResult(query=query or "")
    limit = max(1, int(limit))
    if not text or connection.schema_name in ("", "public"):
        return result
    if document_ids is not None:
        document_ids = [int(i) for i in document_ids]
        if not document_ids:
            return result
    config = search_config()
    lexemes = query_lexemes(text, config)
    fts = _fts_candidates(lexemes, document_ids, CANDIDATES) if lexemes else []

    vector = None
    if use_vectors:
        vector = query_vector if query_vector is not None else _query_vector(text)
    vec: list[tuple[int, float]] = []
    if vector is not None:
        vec = _vector_candidates(vector, document_ids, CANDIDATES)
    if not fts and not vec:
        return result
    if not lexemes and not fts:
        # Nothing meaningful to match by words (e.g. "oi, tudo bem?"): vectors alone would return
        # the "least unrelated" chunks; keep them only when clearly similar.
        vec = [(cid, dist) for cid, dist in vec if 1 - dist >= VECTOR_CEILING]
        if not vec:
            return result

    scores: dict[int, float] = {}
    best_position: dict[int, int] = {}
    for ranking in (fts, vec):
        for position, (chunk_id, _value) in enumerate(ranking, start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + position)
            best_position[chunk_id] = min(best_position.get(chunk_id, position), position)
    ordered = sorted(scores, key=lambda cid: (-scores[cid], best_position[cid], cid))[:limit]
    fts_rank = dict(fts)

    columns = "c.id, c.document_id, d.title, c.text, tsvector_to_array(c.search_vector)"
    params: dict = {"ids": ordered}
    if vector is not None:
        from .embeddings import vector_literal

        columns += ", CASE WHEN c.embedding IS NULL THEN NULL ELSE 1 - (c.embedding <=> %(v)s::vector) END"
        params["v"] = vector_literal(vector)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {Chunk._meta.db_table} c "
                       f"JOIN {Document._meta.db_table} d ON d.id = c.document_id WHERE c.id = ANY(%(ids)s)", params)
        rows = {row[0]: row for row in cursor.fetchall()}

    best_coverage, best_similarity = 0.0, None
    for chunk_id in ordered:
        row = rows.get(chunk_id)
        if row is None:  # deleted between the two queries
            continue
        similarity = None
        if vector is not None and row[5] is not None:
            similarity = max(0.0, min(1.0, float(row[5])))
            best_similarity = similarity if best_similarity is None else max(best_similarity, similarity)
        best_coverage = max(best_coverage, _coverage(lexemes, row[4]))
        result.chunks.append(ScoredChunk(chunk_id=chunk_id, document_id=row[1], title=row[2], text=row[3],
                                         score=scores[chunk_id], fts_rank=fts_rank.get(chunk_id),
                                         vector_score=similarity))
    confidence = best_coverage
    if vec:
        result.mode = "hybrid"
        confidence = max(confidence, _vector_confidence(best_similarity))
    result.confidence = 0.0 if math.isnan(confidence) else round(min(1.0, max(0.0, confidence)), 4)
    return result
