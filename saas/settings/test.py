"""Test run: its own embedded PostgreSQL and Redis (var/test) unless the URLs are set."""
from pathlib import Path

from tenants.embedded import ensure_services

ensure_services(Path(__file__).resolve().parent.parent.parent / "var" / "test", dbname="saas")

from .base import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CSRF_TRUSTED_ORIGINS = ["http://*.localhost", "http://localhost"]
