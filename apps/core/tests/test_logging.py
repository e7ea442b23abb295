"""Request ids and tenant schemas on log lines; JSON lines in production."""
import io
import json
import logging
import os
import subprocess
import sys

import pytest
from django.test import Client
from django.utils.module_loading import import_string

from apps.core.logging import ContextFilter
from conftest import ROOT, host_of, test_database_url

SECRET = "s" * 20 + "-logging-test-0123456789abcdef"


def test_request_id_is_echoed_back(tenant_client):
    response = tenant_client.get("/accounts/login/", HTTP_X_REQUEST_ID="lb-abc.123")
    assert response["X-Request-ID"] == "lb-abc.123"


def test_request_id_is_made_when_missing_or_unsafe(tenant_client):
    made = tenant_client.get("/accounts/login/")["X-Request-ID"]
    assert len(made) == 32
    assert tenant_client.get("/accounts/login/")["X-Request-ID"] != made  # one per request
    unsafe = tenant_client.get("/accounts/login/", HTTP_X_REQUEST_ID='x"\n{injected}')["X-Request-ID"]
    assert unsafe != 'x"\n{injected}' and len(unsafe) == 32


@pytest.fixture
def json_log():
    """The production handler (settings.LOGGING's json formatter + context filter) on a buffer."""
    from django.conf import settings

    spec = dict(settings.LOGGING["formatters"]["json"])
    formatter = import_string(spec.pop("()"))(**spec)
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(formatter)
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("apps.core.request")
    logger.addHandler(handler)
    old_level, logger.level = logger.level, logging.INFO
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    logger.removeHandler(handler)
    logger.level = old_level


def test_access_line_carries_request_id_and_schema(tenant_client, other_tenant, json_log):
    tenant_client.get("/accounts/login/", HTTP_X_REQUEST_ID="req-alpha-2")
    Client(HTTP_HOST=host_of(other_tenant)).get("/nope/", HTTP_X_REQUEST_ID="req-beta-2")

    alpha, beta = json_log()
    assert (alpha["request_id"], alpha["schema"], alpha["status"]) == ("req-alpha-2", "alpha", 200)
    assert (beta["request_id"], beta["schema"], beta["status"]) == ("req-beta-2", "beta", 404)
    assert alpha["level"] == "INFO" and alpha["path"] == "/accounts/login/"


def test_probes_write_no_access_line(public_client, json_log):
    public_client.get("/health")
    assert json_log() == []


def test_production_logs_one_json_line_per_request_with_schema_and_request_id(tenant, other_tenant):
    """A real saas.settings.prod process against the test database: every stderr line is JSON."""
    code = f"""
import django; django.setup()
from django.test import Client
for host, rid in (("{host_of(tenant)}", "req-alpha-1"), ("{host_of(other_tenant)}", "req-beta-1")):
    response = Client(HTTP_HOST=host).get("/accounts/login/", HTTP_X_REQUEST_ID=rid, secure=True)
    print(response.status_code, response["X-Request-ID"])
"""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), "PYTHONPATH": str(ROOT),
           "DJANGO_SETTINGS_MODULE": "saas.settings.prod", "SECRET_KEY": SECRET,
           "ALLOWED_HOSTS": ".localhost,localhost", "DATABASE_URL": test_database_url(),
           "REDIS_URL": os.environ["REDIS_URL"]}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200", "req-alpha-1", "200", "req-beta-1"]

    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]  # fails on non-JSON
    assert lines, "no log line written"
    for line in lines:
        assert {"time", "level", "name", "message", "request_id", "schema"} <= set(line)
    access = {line["request_id"]: line for line in lines if line["name"] == "apps.core.request"}
    assert access["req-alpha-1"]["schema"] == "alpha"
    assert access["req-beta-1"]["schema"] == "beta"
    assert access["req-alpha-1"]["status"] == 200 and access["req-alpha-1"]["path"] == "/accounts/login/"
