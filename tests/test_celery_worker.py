"""A real Celery worker (subprocess) runs each task in the schema it was sent from, and the
fan-out reaches every live tenant but not a suspended one."""
from __future__ import annotations

import os
import signal
import threading
import uuid

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from conftest import PASSWORD, make_user, start_process

TIMEOUT = 60


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker):
    """A worker consuming only a queue of its own, so no other worker can take our tasks."""
    queue = f"test-h4-{uuid.uuid4().hex[:10]}"
    proc = start_process(["-m", "celery", "-A", "saas", "worker", "--pool", "solo", "--concurrency", "1",
                          "-Q", queue, "--without-heartbeat", "--without-gossip", "--without-mingle",
                          "--loglevel", "INFO"])
    output: list[bytes] = []
    # drain the pipe, or a chatty worker blocks on a full buffer
    drain = threading.Thread(target=lambda: output.extend(iter(proc.stdout.readline, b"")), daemon=True)
    drain.start()
    try:
        yield queue
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except Exception:  # noqa: BLE001
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        drain.join(timeout=5)
        if os.environ.get("SHOW_WORKER_LOG"):
            print(b"".join(output).decode(errors="replace"))


@pytest.fixture
def committed(django_db_blocker):
    """No test transaction: writes are committed so the worker (another process) sees them; each
    test undoes its own writes in `finally`."""
    with django_db_blocker.unblock():
        yield
        connection.set_schema_to_public()


def test_each_task_runs_in_the_schema_it_was_sent_from(worker, committed):
    from apps.core.tasks import tenant_ping
    from tenants.services import provision_tenant

    slug = f"ping-{uuid.uuid4().hex[:6]}"
    gamma = provision_tenant(name="Gamma Doces", slug=slug, owner_email="o@gamma.test", owner_password=PASSWORD)
    try:
        make_user(gamma, email="second@gamma.test")  # gamma has 2 users, alpha and beta 1
        with schema_context("alpha"):
            alpha = tenant_ping.apply_async(queue=worker)
        with schema_context("beta"):
            beta = tenant_ping.apply_async(queue=worker)
        with schema_context(slug):
            third = tenant_ping.apply_async(queue=worker)
        public = tenant_ping.apply_async(queue=worker)

        assert alpha.get(timeout=TIMEOUT) == {"schema": "alpha", "tenant": "Alpha Frios", "users": 1}
        assert beta.get(timeout=TIMEOUT) == {"schema": "beta", "tenant": "Beta Pizzaria", "users": 1}
        assert third.get(timeout=TIMEOUT) == {"schema": slug, "tenant": "Gamma Doces", "users": 2}
        assert public.get(timeout=TIMEOUT)["schema"] == "public"
    finally:
        gamma.delete(force_drop=True)  # row, domain and schema


def test_fan_out_reaches_live_tenants_and_skips_suspended(worker, committed):
    from saas.celery import app
    from tenants.choices import TenantStatus
    from tenants.services import provision_tenant, tenant_set_status

    slug = f"susp-{uuid.uuid4().hex[:6]}"
    suspended = provision_tenant(name="Suspended Co", slug=slug, owner_email="o@susp.test", owner_password=PASSWORD)
    try:
        tenant_set_status(tenant=suspended, status=TenantStatus.SUSPENDED)
        dispatch = app.send_task(
            "core.fan_out",
            kwargs={"task_name": "core.tenant_ping", "jitter_seconds": 0, "options": {"queue": worker}},
            queue=worker,
        )
        sent = dispatch.get(timeout=TIMEOUT)
        assert {"alpha", "beta"} <= set(sent)
        assert slug not in sent

        results = {schema: app.AsyncResult(task_id).get(timeout=TIMEOUT) for schema, task_id in sent.items()}
        assert results["alpha"]["tenant"] == "Alpha Frios"
        assert results["beta"]["tenant"] == "Beta Pizzaria"
        assert all(result["schema"] == schema for schema, result in results.items())
    finally:
        suspended.delete(force_drop=True)  # row, domain and schema
