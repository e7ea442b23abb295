"""Readiness probes: each returns (ok, latency_ms, error) and never raises."""
from __future__ import annotations

import time

from django.conf import settings
from django.db import connection


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # noqa: BLE001 - a probe reports any failure as "down"
        return {"ok": False, "latency_ms": round((time.perf_counter() - started) * 1000, 1),
                "error": exc.__class__.__name__}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def check_postgres() -> dict:
    def run():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    return _timed(run)


def check_redis() -> dict:
    import redis

    def run():
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()
    return _timed(run)


def check_broker() -> dict:
    from kombu import Connection

    def run():
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=1,
                        transport_options={"socket_timeout": 1, "socket_connect_timeout": 1}) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=1)
    return _timed(run)


def readiness() -> dict:
    checks = {"postgres": check_postgres(), "redis": check_redis(), "celery_broker": check_broker()}
    return {"ok": all(c["ok"] for c in checks.values()), "checks": checks}
