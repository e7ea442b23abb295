"""Production: everything from the environment; refuses to start without the essentials."""
import os

from django.core.exceptions import ImproperlyConfigured

for _name in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"):
    if not os.environ.get(_name):
        raise ImproperlyConfigured(f"{_name} must be set in production")
if os.environ["SECRET_KEY"] == "dev-only-insecure-key-never-use-in-production" or len(os.environ["SECRET_KEY"]) < 32:
    raise ImproperlyConfigured("SECRET_KEY must be a random value of at least 32 characters")
if os.environ.get("EMBEDDED_POSTGRES"):
    raise ImproperlyConfigured("production needs a real DATABASE_URL, not the embedded PostgreSQL")
os.environ.setdefault("LOG_JSON", "true")
os.environ.setdefault("SITE_URL_SCHEME", "https")
os.environ.setdefault("SITE_PORT", "")

from .base import *  # noqa: E402,F403

DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)  # noqa: F405
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)  # noqa: F405
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$"]
# ASGI runs each request's sync code on a short-lived thread, where persistent connections leak:
# production uses a per-process pool instead (see base.py); DB_POOL_MAX_SIZE=0 falls back to them.
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=10)  # noqa: F405
if DB_POOL_MAX_SIZE > 0:
    use_connection_pool(DATABASES["default"], DB_POOL_MAX_SIZE)  # noqa: F405
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)  # noqa: F405
