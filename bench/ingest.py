"""Inbound message path benchmark: webhooks in, rows stored, events out on the inbox WebSocket.

    python bench/ingest.py [--messages 5000] [--contacts 500] [--concurrency 50]
                           [--steady-rate 100] [--steady-seconds 10]

Own embedded PostgreSQL + Redis under var/bench and a throwaway database ("bench_ingest"), so it
never touches dev or test data. It provisions one tenant with an Evolution connection, starts the
real ASGI server (uvicorn) and a real Celery worker as subprocesses, opens an inbox WebSocket as
the tenant's admin, then:

  burst  -> posts ``--messages`` Evolution-shaped ``messages.upsert`` webhooks from ``--contacts``
            contacts, ``--concurrency`` at a time, as fast as the server takes them:
            accepted webhooks per second.
  steady -> posts at ``--steady-rate`` messages/s for ``--steady-seconds``: webhook-to-WebSocket
            latency (from just before the POST to the ``message.created`` event) p50/p95/p99.

Then it counts, in the database, messages lost (accepted but no Message row) and duplicated
(more rows than distinct provider ids, or a second WebSocket event for one message), and reports
the web process's peak RSS (sampled every 100 ms). The last line is one JSON object with
accepted_per_s, p50_ms, p95_ms, p99_ms, lost, duplicated, web_rss_mb (+ details).
Targets on a 2-core machine: >= 500/s accepted, p95 <= 250 ms at 100/s, 0 lost, 0 duplicated,
web RSS < 300 MB.
"""
from __future__ import annotations

import argparse
import logging
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.test")
DBNAME = "bench_ingest"
SLUG = "benchshop"


def fresh_database() -> str:
    import psycopg

    from tenants.embedded import start_postgres, start_redis

    var_dir = ROOT / "var" / "bench"
    admin_url = start_postgres(var_dir / "pg", "postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DBNAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DBNAME}"')
    os.environ["DATABASE_URL"] = admin_url.replace("/postgres?", f"/{DBNAME}?")
    os.environ["EMBEDDED_POSTGRES"] = "1"
    os.environ["REDIS_URL"] = start_redis(var_dir / "redis")
    os.environ["EMBEDDED_REDIS"] = "1"
    return admin_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def start(args: list[str], env: dict, log: Path | None = None) -> subprocess.Popen:
    out = open(log, "wb") if log else subprocess.PIPE
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    if not log:
        threading.Thread(target=lambda: [None for _ in iter(proc.stdout.readline, b"")], daemon=True).start()
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class RssSampler(threading.Thread):
    """Peak resident memory of a process and its children."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.running = True

    def run(self):
        import psutil

        root = psutil.Process(self.pid)
        while self.running:
            try:
                procs = [root, *root.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs))
            except psutil.Error:
                pass
            time.sleep(0.1)


def evolution_payload(instance: str, contact: int, message_id: str, text: str) -> dict:
    phone = f"55119{contact:08d}"
    jid = f"{phone}@s.whatsapp.net"
    return {
        "event": "messages.upsert",
        "instance": instance,
        "data": {
            "key": {"remoteJid": jid, "fromMe": False, "id": message_id},
            "pushName": f"Cliente {contact}",
            "message": {"conversation": text},
            "messageType": "conversation",
            "messageTimestamp": int(time.time()),
            "instanceId": str(uuid.uuid4()),
            "source": "android",
        },
        "destination": "",
        "date_time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "sender": jid,
        "server_url": "http://localhost:8080",
        "apikey": "bench",
    }


async def run_load(*, base: str, public_host: str, ws_port: int, hook_path: str, secret: str, instance: str, ws_url: str,
                   messages: int, contacts: int, concurrency: int, steady_rate: float, steady_seconds: float):
    import httpx2
    import websockets

    logging.getLogger("httpx2").setLevel(logging.WARNING)  # one INFO line per request otherwise

    posted_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}
    ws_duplicates = 0
    ws_ready = asyncio.Event()

    async def listen():
        nonlocal ws_duplicates
        origin = ws_url.replace("ws://", "http://").split("/ws/")[0]  # the origin validator wants one
        while True:  # like the inbox page: reconnect when the socket drops
            try:
                async with websockets.connect(ws_url, host="127.0.0.1", port=ws_port, max_size=None,
                                              origin=origin, ping_timeout=None) as ws:
                    ws_ready.set()
                    async for raw in ws:
                        event = json.loads(raw)
                        if event.get("type") != "message.created":
                            continue
                        text = event.get("text", "")
                        if not text.startswith("bench "):
                            continue
                        mid = text.split(" ", 1)[1]
                        if mid in seen_at:
                            ws_duplicates += 1
                        else:
                            seen_at[mid] = time.perf_counter()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                print(f"websocket dropped ({exc!r}); reconnecting", flush=True)
                await asyncio.sleep(0.2)

    listener = asyncio.create_task(listen())
    await asyncio.wait_for(ws_ready.wait(), 15)
    headers = {"Host": public_host, "x-webhook-secret": secret, "Content-Type": "application/json"}
    accepted: set[str] = set()
    rejected: dict[int, int] = {}
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx2.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        async def post(contact: int, mid: str):
            body = json.dumps(evolution_payload(instance, contact, mid, f"bench {mid}"))
            posted_at[mid] = time.perf_counter()
            try:
                response = await client.post(hook_path, content=body, headers=headers)
                status = response.status_code
            except Exception:
                status = 0
            if status == 200:
                accepted.add(mid)
            else:
                rejected[status] = rejected.get(status, 0) + 1

        # burst
        queue: asyncio.Queue = asyncio.Queue()
        burst_ids = []
        for n in range(messages):
            mid = f"BURST{n:06d}{uuid.uuid4().hex[:8].upper()}"
            burst_ids.append(mid)
            queue.put_nowait((n % contacts, mid))

        async def worker():
            while True:
                try:
                    contact, mid = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await post(contact, mid)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        burst_elapsed = time.perf_counter() - started
        burst_accepted = sum(1 for m in burst_ids if m in accepted)
        print(f"burst: {burst_accepted}/{messages} accepted in {burst_elapsed:.2f} s "
              f"({burst_accepted / burst_elapsed:.0f}/s); rejected {rejected}", flush=True)

        # let the worker drain the burst before measuring steady-state latency
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and sum(1 for m in burst_ids if m in seen_at) < burst_accepted:
            await asyncio.sleep(0.2)
        drained = time.perf_counter() - started
        print(f"burst drained to the WebSocket after {drained:.1f} s "
              f"({sum(1 for m in burst_ids if m in seen_at)} events)", flush=True)
        burst_latencies = [(seen_at[m] - posted_at[m]) * 1000 for m in burst_ids if m in seen_at]

        # steady
        steady_ids = []
        total = int(steady_rate * steady_seconds)
        interval = 1.0 / steady_rate
        tasks = []
        t0 = time.perf_counter()
        for n in range(total):
            target = t0 + n * interval
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            mid = f"STEADY{n:06d}{uuid.uuid4().hex[:8].upper()}"
            steady_ids.append(mid)
            tasks.append(asyncio.create_task(post((n * 7) % contacts, mid)))
        await asyncio.gather(*tasks)
        deadline = time.monotonic() + 60
        steady_accepted = [m for m in steady_ids if m in accepted]
        while time.monotonic() < deadline and sum(1 for m in steady_accepted if m in seen_at) < len(steady_accepted):
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # late duplicates, if any, would arrive now
    listener.cancel()
    steady_latencies = [(seen_at[m] - posted_at[m]) * 1000 for m in steady_ids if m in seen_at]
    return {
        "accepted": accepted,
        "all_ids": burst_ids + steady_ids,
        "burst_accepted": burst_accepted,
        "burst_elapsed": burst_elapsed,
        "burst_latencies": burst_latencies,
        "steady_latencies": steady_latencies,
        "ws_seen": len(seen_at),
        "ws_duplicates": ws_duplicates,
        "rejected": rejected,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--contacts", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--steady-rate", type=float, default=100)
    parser.add_argument("--steady-seconds", type=float, default=10)
    parser.add_argument("--web-workers", type=int, default=1)
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument("--db-pool", type=int, default=8, help="DB_POOL_MAX_SIZE of the web and worker (0: off)")
    args = parser.parse_args()

    admin_url = fresh_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, connections
    from django_tenants.utils import schema_context

    from apps.accounts.models import User
    from apps.billing.services import plan_ensure_trial
    from apps.notifications.tests.realtime import access_token_for
    from apps.whatsapp.models import ConnectionStatus
    from apps.whatsapp.services.connections import connection_create
    from tenants.services import ensure_public_tenant, provision_tenant

    procs: list[subprocess.Popen] = []
    try:
        call_command("migrate_schemas", interactive=False, verbosity=0, executor="standard")
        plan_ensure_trial()
        ensure_public_tenant()
        tenant = provision_tenant(name="Bench Frios", slug=SLUG, owner_email="owner@bench.test",
                                  owner_password="bench-pass-123")
        host = tenant.get_primary_domain().domain
        with schema_context(SLUG):
            owner = User.objects.get(email="owner@bench.test")
            conn = connection_create(name="Bench", provider="evolution", status=ConnectionStatus.CONNECTED)
            hook_path = f"/hooks/evolution/{conn.webhook_key}/"
            secret, instance = conn.webhook_secret, conn.instance_name
            token = access_token_for(SLUG, owner)
        connection.set_schema_to_public()
        connections.close_all()

        # the production shape: a connection pool per process (saas/settings/base.py, DB_POOL_MAX_SIZE)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "saas.settings.test",
               "DB_POOL_MAX_SIZE": str(args.db_pool), "LOG_LEVEL": "WARNING"}
        port = free_port()
        web = start(["-m", "uvicorn", "saas.asgi:application", "--host", "127.0.0.1", "--port", str(port),
                     "--lifespan", "off", "--no-access-log", "--log-level", "warning",
                     "--workers", str(args.web_workers)], env)
        procs.append(web)
        worker_cmd = ["-m", "celery"]
        if os.environ.get("BENCH_PROFILE_WORKER"):  # cProfile a solo worker: python -m pstats <file>
            worker_cmd = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE_WORKER"], "-m", "celery"]
        procs.append(start([*worker_cmd, "-A", "saas", "worker", "--concurrency", str(args.celery_concurrency),
                            "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel",
                            os.environ.get("BENCH_WORKER_LOGLEVEL", "WARNING"),
                            *(["--pool", "solo"] if os.environ.get("BENCH_PROFILE_WORKER") else [])],
                           env, log=ROOT / "var" / "bench" / "worker.log"))
        import urllib.request

        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except Exception:
                if time.monotonic() > deadline or web.poll() is not None:
                    raise RuntimeError("uvicorn did not start")
                time.sleep(0.2)
        sampler = RssSampler(web.pid)
        sampler.start()
        result = asyncio.run(run_load(
            base=f"http://127.0.0.1:{port}", public_host=settings.BASE_DOMAIN, ws_port=port, hook_path=hook_path, secret=secret,
            instance=instance, ws_url=f"ws://{host}:{port}/ws/inbox/?token={token}",
            messages=args.messages, contacts=args.contacts, concurrency=args.concurrency,
            steady_rate=args.steady_rate, steady_seconds=args.steady_seconds))
        sampler.running = False

        # the database is the judge of lost and duplicated
        from apps.inbox.models import Message

        accepted = result["accepted"]
        with schema_context(SLUG):
            time.sleep(1)
            stored = list(Message.objects.filter(provider_message_id__in=list(accepted))
                          .values_list("provider_message_id", flat=True))
        connection.set_schema_to_public()
        lost = len(accepted - set(stored))
        duplicated = (len(stored) - len(set(stored))) + result["ws_duplicates"]
        steady = result["steady_latencies"]
        figures = {
            "accepted_per_s": round(result["burst_accepted"] / result["burst_elapsed"], 1),
            "p50_ms": round(percentile(steady, 50), 1),
            "p95_ms": round(percentile(steady, 95), 1),
            "p99_ms": round(percentile(steady, 99), 1),
            "lost": lost,
            "duplicated": duplicated,
            "web_rss_mb": round(sampler.peak / 1024 / 1024, 1),
            "posted": len(result["all_ids"]),
            "accepted": len(accepted),
            "rejected": result["rejected"],
            "ws_events": result["ws_seen"],
            "burst_p50_ms": round(percentile(result["burst_latencies"], 50), 1),
            "burst_p95_ms": round(percentile(result["burst_latencies"], 95), 1),
            "steady_rate": args.steady_rate,
            "cpus": os.cpu_count(),
        }
        print(f"steady {args.steady_rate:.0f}/s: p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, "
              f"p99 {figures['p99_ms']} ms over {len(steady)} messages")
        print(f"lost {lost}, duplicated {duplicated}, web peak RSS {figures['web_rss_mb']} MB")
        print(json.dumps(figures))
        return 0
    finally:
        for proc in procs:
            stop(proc)
        connections.close_all()
        import psycopg

        with psycopg.connect(admin_url, autocommit=True) as conn_:
            conn_.execute(f'DROP DATABASE IF EXISTS "{DBNAME}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
