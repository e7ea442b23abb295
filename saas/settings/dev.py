"""Local development: embedded PostgreSQL and Redis under var/ unless the URLs are set."""
import os
from pathlib import Path

from tenants.embedded import ensure_services

ensure_services(Path(__file__).resolve().parent.parent.parent / "var" / "dev", dbname="saas")
os.environ.setdefault("DEBUG", "true")

from .base import *  # noqa: E402,F403

AI_ALLOW_PRIVATE_ENDPOINTS = env.bool("AI_ALLOW_PRIVATE_ENDPOINTS", default=True)  # noqa: F405 - a local Ollama
CSRF_TRUSTED_ORIGINS = CSRF_TRUSTED_ORIGINS or ["http://*.localhost:8000", "http://localhost:8000"]  # noqa: F405
