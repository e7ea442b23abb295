"""AI turn benchmark: the turn's own overhead, with a model that answers at once.

    python bench/turn.py [--turns 200] [--documents 60] [--warmup 20]

Own embedded PostgreSQL + Redis (under var/bench, or BENCH_VAR_DIR) and a throwaway database
("bench_turn"), so it never touches dev or test data. It provisions one tenant with a sandbox
connection, a knowledge base of ``--documents`` Portuguese store documents ingested by the real
ingestion (full-text search), and an assistant; then it times
``AssistantTurnHandler().handle(turn)`` end to end, in this process, for ``--turns`` turns in each
mode:

  retrieval  -> no API key: search, confidence, the best passage or the fallback + hand-off;
  generative -> a provider pointing at the fake OpenAI server (tests/fakes/openai_server.py) started
                in this process with no delay, through the real ``openai`` SDK over HTTP on
                127.0.0.1; three tools enabled.

Each turn is a fresh conversation with six earlier messages (so memory is read) and one to three
customer messages; about one question in five is off-topic (a hand-off: fallback message, bot
state, team notification). Everything a turn does is included: the decision log, retrieval, the
model call, the outbox rows and their enqueue on the (embedded Redis) broker, the hand-off, usage
metering. The setup of each turn (its rows) is not. Per mode it also reports, for diagnosis:
the p50/p95 per decision action, a drift check (first vs last quarter), and a "split" pass where
each turn runs inside one outer transaction so the after-commit work (channel-layer events of the
inbox and notifications, the outbox's Celery enqueue) is timed apart from the turn's own work.
BENCH_SHOW_QUERIES=1 prints one turn's SQL; BENCH_PROFILE_DIR=<dir> writes cProfile files.
The last line is one JSON object:
{"turn_p95_ms": <the worse of the two modes' p95>, "retrieval": {...}, "generative": {...}}.
Target: p95 <= 60 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.test")
DBNAME = "bench_turn"
SLUG = "benchturn"

PRODUCTS = ["presunto parma", "queijo minas", "mussarela de búfala", "salame italiano", "peito de peru",
            "mortadela bologna", "queijo prato", "provolone defumado", "copa lombo", "queijo brie",
            "lombo canadense", "pastrami", "gorgonzola", "parmesão capa preta", "requeijão de corte"]
ZONES = ["zona sul", "centro", "zona norte", "Vila Mariana", "Moema", "Pinheiros", "Santana", "Tatuapé"]
ON_TOPIC = ["Qual o preço do {p}?", "Vocês têm {p} fatiado?", "Entregam na {z}?", "Qual a taxa de entrega para {z}?",
            "Como conservar o {p} depois de aberto?", "O {p} vem em peça inteira?", "Aceitam Pix?",
            "Que horas vocês abrem no sábado?", "Tem {p} sem lactose?", "Qual o prazo de entrega na {z}?"]
OFF_TOPIC = ["Vocês consertam bicicleta elétrica?", "Qual o resultado do jogo de ontem?",
             "Me indica um dentista bom?", "Vocês vendem passagem de avião?"]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def fresh_database() -> str:
    import psycopg

    from tenants.embedded import start_postgres, start_redis

    var_dir = Path(os.environ.get("BENCH_VAR_DIR") or ROOT / "var" / "bench")
    admin_url = start_postgres(var_dir / "pg", "postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DBNAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DBNAME}"')
    os.environ["DATABASE_URL"] = admin_url.replace("/postgres?", f"/{DBNAME}?")
    os.environ["EMBEDDED_POSTGRES"] = "1"
    os.environ["REDIS_URL"] = start_redis(var_dir / "redis")
    os.environ["EMBEDDED_REDIS"] = "1"
    return admin_url


def drop_database(admin_url: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DBNAME}" WITH (FORCE)')


def document_text(i: int, rng: random.Random) -> tuple[str, str]:
    product = PRODUCTS[i % len(PRODUCTS)]
    zone = ZONES[i % len(ZONES)]
    price = rng.randint(30, 250)
    paragraphs = [
        f"{product.capitalize()}",
        f"O {product} custa R$ {price},90 o quilo e pode ser fatiado na hora, em fatias finas ou grossas. "
        f"Vendemos também em peça inteira, sob encomenda com um dia de antecedência.",
        f"Depois de aberto, conserve o {product} na geladeira entre 2 e 6 graus, embalado em filme, e consuma "
        f"em até cinco dias. Não congele: a textura muda.",
        f"Entregas na {zone}: de terça a sábado, taxa de R$ {rng.randint(5, 15)},00, grátis acima de R$ 150,00. "
        f"O prazo de entrega é no mesmo dia para pedidos feitos até as 14h.",
        "Pagamento por Pix, cartão de crédito e de débito ou dinheiro na entrega. Abrimos de segunda a sexta das "
        "8h às 18h e aos sábados das 8h às 12h.",
        f"Versão sem lactose: consulte a disponibilidade do {product} com a nossa equipe.",
    ]
    return f"{product.capitalize()} — ficha {i}", "\n\n".join(paragraphs)


def make_turn(connection_obj, rng: random.Random, index: int):
    """A fresh conversation with six earlier messages and 1-3 customer messages in a Turn."""
    from django.utils import timezone

    from apps.crm.models import Contact
    from apps.inbox.models import Conversation, Message, Turn

    now = timezone.now()
    contact = Contact.objects.create(name=f"Cliente {index}", phone=f"+55119{index:08d}")
    conversation = Conversation.objects.create(contact=contact, connection=connection_obj, last_message_at=now,
                                               last_inbound_at=now)
    earlier = Turn.objects.create(conversation=conversation, status="done")
    history = [("in", "contact", "Oi, boa tarde"), ("out", "ai", "Olá! Como posso ajudar?"),
               ("in", "contact", "Queria saber dos frios"), ("out", "ai", "Claro! Qual produto?"),
               ("in", "contact", "Um momento"), ("out", "ai", "Fico no aguardo.")]
    Message.objects.bulk_create([
        Message(conversation=conversation, direction=d, sender_kind=k, text=t, status="sent", turn=earlier if d == "in" else None,
                created_at=now - timedelta(minutes=30 - i)) for i, (d, k, t) in enumerate(history)])
    if rng.random() < 0.2:
        texts = [rng.choice(OFF_TOPIC)]
    else:
        template = rng.choice(ON_TOPIC)
        texts = [template.format(p=rng.choice(PRODUCTS), z=rng.choice(ZONES))]
        if rng.random() < 0.3:
            texts = ["Oi", *texts]
        if rng.random() < 0.2:
            texts.append("obrigado")
    messages = Message.objects.bulk_create([
        Message(conversation=conversation, direction="in", sender_kind="contact", text=t, status="received",
                created_at=now - timedelta(milliseconds=100 - i)) for i, t in enumerate(texts)])
    turn = Turn.objects.create(conversation=conversation, detail={"message_ids": [m.pk for m in messages]})
    Message.objects.filter(pk__in=[m.pk for m in messages]).update(turn=turn)
    return turn


def split_after_commit(handler, connection_obj, rng, first_index: int, turns: int) -> dict:
    """Where the time goes: the same kind of turns, each wrapped in one outer transaction, so the
    after-commit work (inbox and notification events on the channel layer, the outbox's Celery
    enqueue) runs at the outer commit and is timed apart from the turn's own work. Diagnostic
    only: the headline figure is the plain end-to-end call above."""
    from django.db import transaction

    logic, after = [], []
    for index in range(turns):
        turn = make_turn(connection_obj, rng, first_index + index)
        with transaction.atomic():
            started = time.perf_counter()
            handler.handle(turn)
            middle = time.perf_counter()
        done = time.perf_counter()
        logic.append((middle - started) * 1000)
        after.append((done - middle) * 1000)
    return {"turns": turns, "logic_p50_ms": round(percentile(logic, 50), 2),
            "logic_p95_ms": round(percentile(logic, 95), 2),
            "after_commit_p50_ms": round(percentile(after, 50), 2),
            "after_commit_p95_ms": round(percentile(after, 95), 2)}


def run_mode(name: str, connection_obj, *, turns: int, warmup: int, seed: int) -> dict:
    from apps.agents.models import Decision
    from apps.agents.pipeline import AssistantTurnHandler

    rng = random.Random(seed)
    handler = AssistantTurnHandler()
    timings: list[float] = []
    by_action: dict[str, list[float]] = {}
    profile_dir = os.environ.get("BENCH_PROFILE_DIR")  # cProfile the timed calls: python -m pstats <file>
    profiler = None
    if profile_dir:
        import cProfile

        profiler = cProfile.Profile()
    for index in range(warmup + turns):
        turn = make_turn(connection_obj, rng, seed * 100000 + index)
        if profiler is not None and index >= warmup:
            profiler.enable()
        started = time.perf_counter()
        taken = handler.handle(turn)
        elapsed = (time.perf_counter() - started) * 1000
        if profiler is not None:
            profiler.disable()
        assert taken, f"turn {turn.pk} not taken"
        if index >= warmup:
            timings.append(elapsed)
            action = Decision.objects.filter(turn=turn).values_list("action", flat=True).first()
            by_action.setdefault(action, []).append(elapsed)
    split = split_after_commit(handler, connection_obj, rng, seed * 100000 + warmup + turns + 1, turns // 2)
    if os.environ.get("BENCH_SHOW_QUERIES"):  # the SQL of one more turn, to see where the time goes
        from django.db import connection as db
        from django.test.utils import CaptureQueriesContext

        turn = make_turn(connection_obj, rng, seed * 100000 + warmup + turns)
        with CaptureQueriesContext(db) as captured:
            handler.handle(turn)
        for query in captured.captured_queries:
            print(f"  {query['time']}  {query['sql'][:160]}")
        print(f"  {len(captured.captured_queries)} queries")
    if profiler is not None:
        profiler.dump_stats(str(Path(profile_dir) / f"turn-{name}.prof"))
    actions: dict[str, int] = {}
    for action in Decision.objects.filter(mode=name).values_list("action", flat=True):
        actions[action] = actions.get(action, 0) + 1
    errors = list(Decision.objects.filter(mode=name).exclude(error="").values_list("error", flat=True)[:3])
    return {"turns": turns, "p50_ms": round(percentile(timings, 50), 2), "p95_ms": round(percentile(timings, 95), 2),
            "p99_ms": round(percentile(timings, 99), 2), "mean_ms": round(statistics.mean(timings), 2),
            "max_ms": round(max(timings), 2),
            # a drift check: the first and last quarters' medians should match
            "p50_first_quarter_ms": round(statistics.median(timings[: max(1, turns // 4)]), 2),
            "p50_last_quarter_ms": round(statistics.median(timings[-max(1, turns // 4):]), 2),
            "by_action": {a: {"n": len(v), "p50_ms": round(percentile(v, 50), 2), "p95_ms": round(percentile(v, 95), 2)}
                          for a, v in sorted(by_action.items())},
            "split": split, "actions": actions, "errors": errors}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--documents", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()

    admin_url = fresh_database()
    import logging

    import django

    django.setup()
    logging.disable(logging.WARNING)  # the hand-offs and retries log on purpose; keep the output short
    from django.core.management import call_command
    from django.db import connection
    from django_tenants.utils import schema_context

    from apps.agents.models import Assistant, ModelProvider
    from apps.billing.services import plan_ensure_trial
    from apps.knowledge.models import Chunk
    from apps.knowledge.services import document_create_text, document_ingest
    from apps.whatsapp.services.connections import connection_create
    from tenants.services import ensure_public_tenant, provision_tenant
    from tests.fakes.openai_server import API_KEY, FakeOpenAI

    fake = FakeOpenAI(default_reply="Temos sim! O quilo sai por R$ 89,90 e entregamos hoje.").start()
    try:
        call_command("migrate_schemas", interactive=False, verbosity=0, executor="standard")
        plan_ensure_trial()
        ensure_public_tenant()
        tenant = provision_tenant(name="Bench Frios", slug=SLUG, owner_email="owner@bench.test",
                                  owner_password="bench-pass-123")
        # a plan without an AI quota: the trial's monthly turns would run out mid-bench (and turn
        # the rest into quota hand-offs)
        from apps.billing.models import Plan

        tenant.plan = Plan.objects.create(name="Bench", slug="bench", ai_turns_per_month=None)
        tenant.save(update_fields=["plan"])
        rng = random.Random(7)
        with schema_context(SLUG):
            conn = connection_create(name="Bench", provider="sandbox")
            started = time.perf_counter()
            for i in range(args.documents):
                title, content = document_text(i, rng)
                document = document_create_text(title=title, content=content)
                document_ingest(document.pk, document.version)
            chunks = Chunk.objects.count()
            print(f"knowledge: {args.documents} documents, {chunks} chunks in {time.perf_counter() - started:.1f} s")
            assistant = Assistant.objects.create(name="Ana", is_default=True, business_hours={},
                                                 typing_presence=True,
                                                 enabled_tools=["business_hours", "save_contact_data",
                                                                "handoff_to_human"])

            results = {"retrieval": run_mode("retrieval", conn, turns=args.turns, warmup=args.warmup, seed=1)}
            print("retrieval ", json.dumps(results["retrieval"], ensure_ascii=False))

            ModelProvider.objects.create(name="Fake", base_url=fake.base_url, api_key=API_KEY, model="gpt-4o-mini",
                                         is_default=True, timeout_seconds=5)
            assistant.refresh_from_db()
            results["generative"] = run_mode("generative", conn, turns=args.turns, warmup=args.warmup, seed=2)
            print("generative", json.dumps(results["generative"], ensure_ascii=False))
            print(f"model calls: {len(fake.chat_requests())}")
        connection.set_schema_to_public()
    finally:
        fake.stop()
        drop_database(admin_url)
    worst = max(results["retrieval"]["p95_ms"], results["generative"]["p95_ms"])
    print(json.dumps({"turn_p95_ms": worst, "target_ms": 60, **results}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
