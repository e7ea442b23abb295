"""Knowledge retrieval benchmark: full-text and hybrid search over 100,000 chunks in one tenant,
and ingestion throughput through the real ingestion code.

    DJANGO_SETTINGS_MODULE=saas.settings.test python bench/retrieval.py [--chunks 100000]
        [--queries 200] [--ingest-docs 200] [--fresh]

Own embedded PostgreSQL under var/bench and its own database ("bench_retrieval"), never dev or
test data. The database, the tenant ("benchkb") and its 100,000 chunks are kept between runs
(loading them and building the HNSW index takes minutes); ``--fresh`` starts over.

Data: synthetic Portuguese-like text. Each chunk is ~800 characters: real stop words between
content words drawn from a 50,000-word vocabulary (a few hundred real store words first, then
made-up syllable words) with a Zipf-like frequency (exponent 0.7, so the commonest content word
is in about half the chunks and the 1,000th in under 1%). Vectors are 1536-dimensional, from the
same deterministic function the fake OpenAI server of the tests uses (hashed word stems), loaded
with COPY; the GIN and HNSW indexes are built after loading.

Measured:
  fts     -> apps.knowledge.selectors.search(q, use_vectors=False): the whole call (lexemes,
             candidates, fusion, hydration, confidence), over ~200 varied questions
  hybrid  -> the same with vectors: questions are embedded locally with the same fake function
             before timing (``query_vector=``), so this is the database side; the extra line
             "hybrid incl. embedding HTTP" adds a round trip to the fake server for reference
  ingest  -> apps.knowledge.services.document_ingest on --ingest-docs new documents (~5,000
             characters each) with the fake embedding endpoint over HTTP (chunks/s), and again
             with full text only; the documents are deleted afterwards
The last line printed is one JSON object: {"fts_p95_ms", "hybrid_p95_ms", "ingest_chunks_per_s", ...}.
Targets: fts p95 <= 30 ms, hybrid p95 <= 60 ms.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.test")
DBNAME = "bench_retrieval"
SLUG = "benchkb"
DIMS = 1536

STOP = ("de a o que e do da em um para é com não uma os no se na por mais as dos como mas ao ele das à seu "
        "sua ou quando muito nos já também só pelo pela até isso entre depois sem mesmo aos seus quem nas "
        "esse eles você essa num nem suas meu às minha numa pelos elas qual nós lhe deles essas esses pelas "
        "este dele tu te vocês vos lhes meus minhas teu tua nosso nossa nossos nossas dela delas esta estes "
        "estas aquele aquela isto aquilo").split()
STORE = ("queijo presunto muçarela parmesão provolone gorgonzola salame mortadela peito peru lombo "
         "defumado fatiado fatias gramas quilo preço promoção entrega entregas frete taxa bairro bairros "
         "centro pedido pedidos pagamento pix cartão crédito débito dinheiro troco boleto nota fiscal cnpj "
         "horário segunda sexta sábado domingo feriado abrimos fechamos loja balcão retirada motoboy prazo "
         "minutos validade troca trocas devolução reembolso cancelamento encomenda encomendas natal ceia "
         "tábua tábuas cesta cestas presente vinho vinhos cerveja pão baguete ciabatta azeite azeitona "
         "geleia mel iogurte requeijão manteiga lactose vegano vegana castanha frios laticínios atacado "
         "restaurante empresa evento eventos festa casamento convidados orçamento fidelidade pontos cadastro "
         "whatsapp telefone endereço rua estacionamento cliente clientes produto produtos qualidade fresco "
         "frescos artesanal artesanais importado nacional italiano português espanhol francês serrano parma "
         "brie camembert gouda minas frescal prato reino canastra tender pernil chester peso embalagem "
         "refrigeração geladeira gelo temperatura caixa térmica vencimento parcelado juros parcelas semana "
         "manhã tarde noite hoje amanhã ontem garantia atendimento reclamação sugestão cardápio receita "
         "receitas sanduíche lanche petisco petiscos aperitivo vinagrete molho tempero ervas pimenta "
         "orégano alecrim manjericão tomate seco cebola alho batata salada frango carne bovina suína "
         "linguiça calabresa bacon copa pancetta coppa bresaola rosbife pastrami kit kits desconto cupom "
         "aplicativo site cadastro senha conta email mensagem resposta dúvida dúvidas política regras").split()
SYLLABLES = ("ba be bi bo bu ca ce ci co cu da de di do du fa fe fi fo fu ga ge gi go gu la le li lo lu ma me mi "
             "mo mu na ne ni no nu pa pe pi po pu ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo vu "
             "bra bre cra cre pra pre tra tre gra gre cla pla fla lan len lin lon mar mer mor sal sel sol tar "
             "ter tor ção são").split()


# --- synthetic data ------------------------------------------------------------------------------

def vocabulary(size: int, rng: random.Random) -> list[str]:
    words = list(dict.fromkeys(STORE))
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen and len(word) > 3:
            seen.add(word)
            words.append(word)
    return words


class Sampler:
    """Content words with p(rank r) ~ r^-0.7."""

    def __init__(self, words: list[str], rng: random.Random, exponent: float = 0.7):
        self.words = words
        self.rng = rng
        weights = [1.0 / (r ** exponent) for r in range(1, len(words) + 1)]
        total = sum(weights)
        self.cumulative = []
        acc = 0.0
        for w in weights:
            acc += w / total
            self.cumulative.append(acc)

    def word(self) -> str:
        import bisect

        return self.words[min(len(self.words) - 1, bisect.bisect_left(self.cumulative, self.rng.random()))]


def chunk_text(sampler: Sampler, rng: random.Random, target: int = 800) -> str:
    sentences, length = [], 0
    while length < target - 60:
        words = []
        for _ in range(rng.randint(8, 18)):
            words.append(sampler.word() if rng.random() < 0.45 else rng.choice(STOP))
        sentence = " ".join(words).capitalize() + "."
        sentences.append(sentence)
        length += len(sentence) + 1
    return " ".join(sentences)[:target]


def sparse_fake_embedding(text: str) -> dict[int, float]:
    """tests.fakes.openai_server.fake_embedding(text, 1536), as {index: value} (it is sparse)."""
    from tests.fakes.openai_server import _words

    vector: dict[int, float] = {}
    for word in _words(text):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "little") % DIMS
        vector[index] = vector.get(index, 0.0) + (1.0 if digest[4] & 1 else -1.0)
    norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
    return {i: v / norm for i, v in vector.items()}


def dense(sparse: dict[int, float]) -> list[float]:
    vector = [0.0] * DIMS
    for i, v in sparse.items():
        vector[i] = v
    return vector


def vector_text(sparse: dict[int, float]) -> str:
    parts = ["0"] * DIMS
    for i, v in sparse.items():
        parts[i] = f"{v:.6g}"
    return "[" + ",".join(parts) + "]"


def questions(count: int, sampler: Sampler, words: list[str], rng: random.Random) -> list[str]:
    """Varied questions: natural templates around store words, bags of 2-6 content words with
    common and rare ones mixed, a few accent-less and a few single-word ones."""
    templates = ["qual o preço do {a}?", "vocês têm {a} e {b}?", "vocês entregam {a} no bairro {b}?",
                 "como funciona a {a} de {b}?", "quanto custa {a} com {b} e {c}?", "tem {a}?",
                 "até que horas posso pedir {a}?", "aceitam {a} para {b}?", "{a} {b} {c} {d}",
                 "o {a} é {b} ou {c}?", "gostaria de saber sobre {a}, {b} e {c}"]
    out = []
    for i in range(count):
        kind = i % 4
        if kind == 0:
            q = rng.choice(templates).format(a=sampler.word(), b=sampler.word(), c=sampler.word(), d=sampler.word())
        elif kind == 1:
            q = " ".join(sampler.word() for _ in range(rng.randint(2, 6)))
        elif kind == 2:
            q = " ".join(rng.choice(words[: len(words) // 10]) for _ in range(rng.randint(1, 4)))  # rarer mix
        else:
            q = rng.choice(templates).format(a=rng.choice(STORE), b=rng.choice(STORE), c=sampler.word(),
                                             d=sampler.word())
        if rng.random() < 0.2:
            import unicodedata

            q = "".join(ch for ch in unicodedata.normalize("NFKD", q) if not unicodedata.combining(ch))
        out.append(q)
    return out


# --- database ------------------------------------------------------------------------------------

def database(fresh: bool) -> bool:
    """Embedded servers in var/bench; returns True when the database was (re)created."""
    import psycopg

    from tenants.embedded import start_postgres, start_redis

    var_dir = ROOT / "var" / "bench"
    admin_url = start_postgres(var_dir / "pg", "postgres")
    created = False
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DBNAME]).fetchone()
        if fresh and exists:
            conn.execute(f'DROP DATABASE "{DBNAME}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{DBNAME}"')
            created = True
    os.environ["DATABASE_URL"] = admin_url.replace("/postgres?", f"/{DBNAME}?")
    os.environ["EMBEDDED_POSTGRES"] = "1"
    os.environ["REDIS_URL"] = start_redis(var_dir / "redis")
    os.environ["EMBEDDED_REDIS"] = "1"
    return created


def provision() -> None:
    from django.core.management import call_command

    from apps.billing.services import plan_ensure_trial
    from tenants.models import Tenant
    from tenants.services import ensure_public_tenant, provision_tenant

    started = time.perf_counter()
    call_command("migrate_schemas", interactive=False, verbosity=0, executor="standard")
    plan_ensure_trial()
    ensure_public_tenant()
    if not Tenant.objects.filter(schema_name=SLUG).exists():
        provision_tenant(name="Bench Knowledge", slug=SLUG, owner_email="owner@benchkb.test",
                         owner_password="bench-password-1")
    print(f"database ready in {time.perf_counter() - started:.1f} s", flush=True)


# The two indexes of apps.knowledge.models.Chunk, as its migration creates them.
INDEXES = [
    ("knowledge_chunk_fts", "CREATE INDEX knowledge_chunk_fts ON knowledge_chunk USING gin (search_vector)"),
    ("knowledge_chunk_vec", "CREATE INDEX knowledge_chunk_vec ON knowledge_chunk USING hnsw (embedding "
                            "vector_cosine_ops) WITH (m = 16, ef_construction = 64)"),
]


def load(chunks: int, rng: random.Random, sampler: Sampler) -> None:
    """Documents of 50 chunks each, chunks through COPY into a staging table, then one INSERT ...
    SELECT computing the search vectors the way the ingestion does; indexes rebuilt after."""
    from django.db import connection
    from django.utils import timezone

    from apps.knowledge.models import Chunk, Document

    per_doc = 50
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM knowledge_chunk")
        cursor.execute("DELETE FROM knowledge_document")
        for name, _definition in INDEXES:  # faster to build once after loading than to maintain
            cursor.execute(f"DROP INDEX IF EXISTS {name}")
    now = timezone.now()
    docs = Document.objects.bulk_create([
        Document(title=f"Documento {i}: {sampler.word()} e {sampler.word()}", status="ready", progress=100,
                 chunk_count=per_doc, ingested_at=now, content="(bench)")
        for i in range(math.ceil(chunks / per_doc))])
    raw = connection.connection  # psycopg connection under Django's wrapper
    with connection.cursor() as cursor:
        cursor.execute("CREATE UNLOGGED TABLE IF NOT EXISTS bench_stage (document_id bigint, position int, "
                       "text text, embedding text)")
        cursor.execute("TRUNCATE bench_stage")
    written = 0
    with raw.cursor() as cursor:
        with cursor.copy("COPY bench_stage (document_id, position, text, embedding) FROM STDIN") as copy:
            for doc in docs:
                for position in range(per_doc):
                    if written >= chunks:
                        break
                    text = chunk_text(sampler, rng)
                    copy.write_row((doc.pk, position, text, vector_text(sparse_fake_embedding(f"{doc.title}\n\n{text}"))))
                    written += 1
                    if written % 10_000 == 0:
                        print(f"  generated {written:,} chunks ({time.perf_counter() - started:.0f} s)", flush=True)
    print(f"copied {written:,} chunks in {time.perf_counter() - started:.0f} s", flush=True)
    step = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Chunk._meta.db_table} (document_id, position, text, search_config, search_vector, "
            "embedding, created_at) "
            "SELECT s.document_id, s.position, s.text, 'portuguese', "
            "to_tsvector('portuguese'::regconfig, public.fold_accents(lower(d.title || ' ' || s.text))), "
            "s.embedding::vector, now() FROM bench_stage s JOIN knowledge_document d ON d.id = s.document_id")
        cursor.execute("DROP TABLE bench_stage")
    print(f"inserted with search vectors in {time.perf_counter() - step:.0f} s", flush=True)
    step = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '2GB'")
        cursor.execute("SET max_parallel_maintenance_workers = 2")
        for name, definition in INDEXES:
            cursor.execute(definition)
            print(f"  built {name} in {time.perf_counter() - step:.0f} s", flush=True)
            step = time.perf_counter()
        cursor.execute("ANALYZE knowledge_chunk")
        cursor.execute("ANALYZE knowledge_document")
    print(f"loaded in {time.perf_counter() - started:.0f} s total", flush=True)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def summary(label: str, times: list[float]) -> float:
    p95 = percentile(times, 95)
    print(f"{label:28s} n={len(times)}  p50 {percentile(times, 50):6.1f} ms  p95 {p95:6.1f} ms  "
          f"p99 {percentile(times, 99):6.1f} ms  max {max(times):6.1f} ms", flush=True)
    return p95


def explain(query: str, vector: list[float]) -> None:
    """The plans of the two candidate queries, to show the GIN and HNSW indexes at work."""
    from django.db import connection
    from pgvector.django import CosineDistance

    from apps.knowledge import selectors
    from apps.knowledge.models import Chunk

    sql, params = selectors.fts_candidates_sql(selectors.query_lexemes(query, "portuguese"), None,
                                               selectors.CANDIDATES)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql, params)
        plan = [row[0] for row in cursor.fetchall()]
    print(f"fts plan for {query!r}:\n  " + "\n  ".join(line[:160] for line in plan), flush=True)
    qs = (Chunk.objects.filter(selectors._searchable(), embedding__isnull=False)
          .annotate(distance=CosineDistance("embedding", vector)).order_by("distance").values_list("id")[:20])
    compiled, qparams = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('hnsw.ef_search', %s, false), "
                       "set_config('hnsw.iterative_scan', 'relaxed_order', false)", [str(selectors.HNSW_EF_SEARCH)])
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + compiled, qparams)
        plan = [row[0] for row in cursor.fetchall()]
    print("vector plan:\n  " + "\n  ".join(line[:160] for line in plan), flush=True)


def approximation(qs: list[str], vectors: list[list[float]]) -> None:
    """How far the bounded full-text ranking and the HNSW walk are from exhaustive answers."""
    from django.db.models import FloatField, Value
    from pgvector.django import CosineDistance

    from apps.knowledge import selectors
    from apps.knowledge.models import Chunk

    def tops(**limits):
        saved = {name: getattr(selectors, name) for name in limits}
        for name, value in limits.items():
            setattr(selectors, name, value)
        try:
            return [search_top(q) for q in qs]
        finally:
            for name, value in saved.items():
                setattr(selectors, name, value)

    def search_top(q):
        result = selectors.search(q, use_vectors=False, limit=5)
        return [c.chunk_id for c in result.chunks], [round(c.fts_rank or 0, 6) for c in result.chunks], result.confidence

    bounded = tops()
    exhaustive = tops(CANDIDATE_BUDGET=10**9, CANDIDATE_CAP=10**9, RERANK=10**9)
    same = sum(1 for (b_ids, b_rank, b_conf), (e_ids, e_rank, e_conf) in zip(bounded, exhaustive)
               if b_ids[:1] == e_ids[:1] or (b_rank[:1] == e_rank[:1] and b_conf == e_conf))
    overlap = sum(len(set(b[0]) & set(e[0])) / max(1, len(e[0])) for b, e in zip(bounded, exhaustive)) / len(qs)
    print(f"fts bounded vs exhaustive ranking over {len(qs)} questions: equally good top-1 {same / len(qs):.0%}, "
          f"top-5 overlap {overlap:.0%}", flush=True)
    recalls = []
    for vector in vectors:
        approximate = {cid for cid, _ in selectors._vector_candidates(vector, None, 20)}
        exact = set(Chunk.objects.filter(embedding__isnull=False)
                    .order_by(CosineDistance("embedding", vector) + Value(0.0, output_field=FloatField()))
                    .values_list("id", flat=True)[:20])
        recalls.append(len(approximate & exact) / 20)
    print(f"hnsw recall@20 vs exact scan over {len(vectors)} questions (ef_search {selectors.HNSW_EF_SEARCH}): "
          f"{sum(recalls) / len(recalls):.0%}", flush=True)


def ingest_throughput(docs: int, sampler: Sampler, rng: random.Random, *, with_embeddings: bool) -> float:
    from apps.agents.models import ModelProvider
    from apps.knowledge.models import Chunk, Document
    from apps.knowledge.services import document_ingest
    from tests.fakes.openai_server import API_KEY, EMBEDDING_MODEL, FakeOpenAI

    fake = FakeOpenAI().start()
    try:
        ModelProvider.objects.filter(name="Bench").delete()
        if with_embeddings:
            ModelProvider.objects.filter(is_default=True).update(is_default=False)
            ModelProvider.objects.create(name="Bench", base_url=fake.base_url, api_key=API_KEY,
                                         embedding_model=EMBEDDING_MODEL, is_default=True)
        bodies = []
        for i in range(docs):
            paragraphs = ["\n".join(chunk_text(sampler, rng, target=rng.randint(150, 450)) for _ in range(2))
                          for _ in range(rng.randint(8, 12))]
            bodies.append("\n\n".join(paragraphs)[:5200])
        # Rows made as the service makes them (without the after-commit task send): the timed part
        # is the ingestion itself.
        created = [Document.objects.create(title=f"Ingest {i}", content=body, char_count=len(body))
                   for i, body in enumerate(bodies)]
        started = time.perf_counter()
        for document in created:
            document_ingest(document.pk, document.version)
        elapsed = time.perf_counter() - started
        ids = [d.pk for d in created]
        statuses = set(Document.objects.filter(pk__in=ids).values_list("status", flat=True))
        chunks = Chunk.objects.filter(document_id__in=ids).count()
        with_vectors = Chunk.objects.filter(document_id__in=ids, embedding__isnull=False).count()
        assert statuses == {"ready"}, statuses
        Document.objects.filter(pk__in=ids).delete()
        ModelProvider.objects.filter(name="Bench").delete()
    finally:
        fake.stop()
    rate = chunks / elapsed
    label = "with embeddings (fake, HTTP)" if with_embeddings else "full text only"
    print(f"ingest {label:30s} {docs} documents, {chunks:,} chunks ({with_vectors:,} with vectors) in "
          f"{elapsed:.1f} s: {rate:.0f} chunks/s", flush=True)
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ingest-docs", type=int, default=200)
    parser.add_argument("--fresh", action="store_true", help="drop the bench database and load again")
    args = parser.parse_args()

    database(args.fresh)
    import django

    django.setup()
    import logging

    logging.getLogger("httpx2").setLevel(logging.WARNING)  # one INFO line per request otherwise
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.db import connection
    from django_tenants.utils import schema_context

    from apps.knowledge.models import Chunk
    from apps.knowledge.selectors import search

    provision()
    rng = random.Random(20261201)
    words = vocabulary(50_000, rng)
    sampler = Sampler(words, rng)
    assert max(abs(a - b) for a, b in zip(dense(sparse_fake_embedding("Queijo prato fatiado")),
                                          __import__("tests.fakes.openai_server", fromlist=["x"]).fake_embedding(
                                              "Queijo prato fatiado", DIMS))) < 1e-9

    with schema_context(SLUG):
        existing = Chunk.objects.count()
        if existing != args.chunks:
            print(f"loading {args.chunks:,} chunks (found {existing:,})", flush=True)
            load(args.chunks, rng, sampler)
        else:
            print(f"reusing {existing:,} chunks", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('knowledge_chunk')), "
                           "pg_size_pretty(pg_relation_size('knowledge_chunk_fts')), "
                           "pg_size_pretty(pg_relation_size('knowledge_chunk_vec'))")
            table_size, fts_size, vec_size = cursor.fetchone()
        print(f"knowledge_chunk {table_size} (GIN {fts_size}, HNSW {vec_size})", flush=True)

        qrng = random.Random(7)
        qs = questions(args.queries, Sampler(words, qrng), words, qrng)
        vectors = [dense(sparse_fake_embedding(q)) for q in qs]

        for q in qs[:20]:  # warm caches and the connection
            search(q, use_vectors=False)
            search(q, query_vector=vectors[0])

        fts_times, fts_hits, empty = [], 0, 0
        for q in qs:
            started = time.perf_counter()
            result = search(q, use_vectors=False)
            fts_times.append((time.perf_counter() - started) * 1000)
            fts_hits += len(result.chunks)
            empty += not result.chunks
        hybrid_times, modes = [], set()
        for q, vector in zip(qs, vectors):
            started = time.perf_counter()
            result = search(q, query_vector=vector)
            hybrid_times.append((time.perf_counter() - started) * 1000)
            modes.add(result.mode)
        assert modes == {"hybrid"}, modes
        print(f"{len(qs)} questions ({empty} found nothing), e.g. {qs[:4]}", flush=True)
        fts_p95 = summary("fts", fts_times)
        hybrid_p95 = summary("hybrid (database side)", hybrid_times)

        # For reference: the same with the question embedded by the fake server over HTTP.
        from apps.agents.models import ModelProvider
        from tests.fakes.openai_server import API_KEY, EMBEDDING_MODEL, FakeOpenAI

        with FakeOpenAI() as fake:
            ModelProvider.objects.filter(is_default=True).update(is_default=False)
            provider = ModelProvider.objects.create(name="Bench", base_url=fake.base_url, api_key=API_KEY,
                                                    embedding_model=EMBEDDING_MODEL, is_default=True)
            http_times = []
            for q in qs[:100]:
                started = time.perf_counter()
                assert search(q).mode == "hybrid"
                http_times.append((time.perf_counter() - started) * 1000)
            provider.delete()
        summary("hybrid incl. embedding HTTP", http_times)

        explain("vocês entregam queijo no bairro centro?", vectors[0])
        approximation(qs[:50], vectors[:10])

        ingest_rate = ingest_throughput(args.ingest_docs, sampler, rng, with_embeddings=True)
        fts_ingest_rate = ingest_throughput(args.ingest_docs, sampler, rng, with_embeddings=False)

    result = {
        "fts_p95_ms": round(fts_p95, 1),
        "hybrid_p95_ms": round(hybrid_p95, 1),
        "ingest_chunks_per_s": round(ingest_rate, 1),
        "ingest_fts_only_chunks_per_s": round(fts_ingest_rate, 1),
        "chunks": args.chunks,
        "queries": len(qs),
        "fts_p50_ms": round(percentile(fts_times, 50), 1),
        "hybrid_p50_ms": round(percentile(hybrid_times, 50), 1),
        "hybrid_with_http_p95_ms": round(percentile(http_times, 95), 1),
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
