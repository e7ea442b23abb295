"""saas.settings.prod: refuses to start without its essentials, and turns the protections on."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

GOOD_ENV = {
    "SECRET_KEY": "k" * 24 + "-prod-test-0123456789abcdef",
    "ALLOWED_HOSTS": "app.example.com,.app.example.com",
    "DATABASE_URL": "postgres://saas:secret@db.internal:5432/saas",
    "REDIS_URL": "redis://redis.internal:6379/0",
}


def run_prod(code: str, **env) -> subprocess.CompletedProcess:
    """Python with DJANGO_SETTINGS_MODULE=saas.settings.prod and only the environment given."""
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
             "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "saas.settings.prod", **env}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True,
                          timeout=60)


SETUP = "import django; django.setup()"


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"])
def test_refuses_to_start_without(missing):
    env = {k: v for k, v in GOOD_ENV.items() if k != missing}
    result = run_prod(SETUP, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{missing} must be set" in result.stderr


@pytest.mark.parametrize("key", ["dev-only-insecure-key-never-use-in-production", "short"])
def test_refuses_a_weak_secret_key(key):
    result = run_prod(SETUP, **{**GOOD_ENV, "SECRET_KEY": key})
    assert result.returncode != 0
    assert "SECRET_KEY must be a random value" in result.stderr


def test_refuses_the_embedded_database():
    result = run_prod(SETUP, **GOOD_ENV, EMBEDDED_POSTGRES="1")
    assert result.returncode != 0
    assert "real DATABASE_URL" in result.stderr


def test_starts_with_the_essentials_and_turns_protections_on():
    code = SETUP + """
import json
from django.conf import settings as s
print(json.dumps({name: getattr(s, name) for name in [
    "DEBUG", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_PROXY_SSL_HEADER", "SECURE_CONTENT_TYPE_NOSNIFF",
    "X_FRAME_OPTIONS", "SECURE_REFERRER_POLICY", "SESSION_COOKIE_HTTPONLY", "ALLOWED_HOSTS",
    "SITE_URL_SCHEME", "SECURE_REDIRECT_EXEMPT"]} | {
    "db_host": s.DATABASES["default"]["HOST"], "cache": s.CACHES["default"]["LOCATION"],
    "broker": s.CELERY_BROKER_URL,
    "log_formatter": s.LOGGING["handlers"]["console"]["formatter"]}))
"""
    result = run_prod(code, **GOOD_ENV)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31536000 and values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SECURE_CONTENT_TYPE_NOSNIFF"] is True and values["X_FRAME_OPTIONS"] == "DENY"
    assert values["SECURE_REFERRER_POLICY"] == "strict-origin-when-cross-origin"
    assert values["ALLOWED_HOSTS"] == ["app.example.com", ".app.example.com"]
    assert values["SITE_URL_SCHEME"] == "https"
    assert values["db_host"] == "db.internal"
    assert values["cache"] == values["broker"] == "redis://redis.internal:6379/0"
    assert values["log_formatter"] == "json"
    # probes stay reachable over plain HTTP from the load balancer
    assert {"^health$", "^ready$"} <= set(values["SECURE_REDIRECT_EXEMPT"])


def test_deploy_checks_pass():
    """Django's own production checklist (manage.py check --deploy) finds no security issue."""
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--tag", "security",
                             "--fail-level", "WARNING"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
                                 "DJANGO_SETTINGS_MODULE": "saas.settings.prod", **GOOD_ENV})
    assert result.returncode == 0, result.stdout + result.stderr
