"""Test run: its own embedded PostgreSQL and Redis (var/test, or TEST_VAR_DIR) unless the URLs are set."""
import os
from pathlib import Path

from tenants.embedded import ensure_services

_root = Path(__file__).resolve().parent.parent.parent
ensure_services(Path(os.environ.get("TEST_VAR_DIR") or _root / "var" / "test"), dbname="saas")

from .base import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CSRF_TRUSTED_ORIGINS = ["http://*.localhost", "http://localhost"]
AI_RETRY_BACKOFF_SECONDS = 0.05
AI_ALLOW_PRIVATE_ENDPOINTS = True  # the fake OpenAI server runs on 127.0.0.1
