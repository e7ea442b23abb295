"""WebSocket middleware: resolve the tenant from the Host header, then the user (session cookie or
JWT), all inside that tenant's schema. Another tenant's session or token never authenticates here.

Sets ``scope["tenant"]`` (or None) and ``scope["user"]`` (AnonymousUser when not authenticated).
Consumers refuse anonymous users; they wrap later queries in ``tenant_context(scope["tenant"])``.
"""
from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import connections
from django.utils.crypto import constant_time_compare
from django_tenants.utils import (
    get_public_schema_name,
    get_tenant_domain_model,
    remove_www,
    schema_context,
    tenant_context,
)


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return ""


def _resolve_tenant(host: str):
    hostname = remove_www(host.split(":")[0].lower())
    if not hostname:
        return None
    with schema_context(get_public_schema_name()):  # this worker thread may have served a tenant before
        domain = get_tenant_domain_model().objects.select_related("tenant").filter(domain=hostname).first()
    if domain is None or domain.tenant.schema_name == get_public_schema_name():
        return None
    tenant = domain.tenant
    tenant.domain_url = hostname
    return tenant


def _user_from_session(session_key: str):
    from importlib import import_module

    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user_id = store.get(SESSION_KEY)
    if user_id is None or store.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS:
        return None
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    # same check as django.contrib.auth.get_user: a password change ends other sessions
    if not constant_time_compare(store.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()):
        return None
    return user


def _user_from_token(raw: str, tenant):
    from apps.accounts.authentication import user_for_access_token

    return user_for_access_token(raw, schema_name=tenant.schema_name)


def release_connections() -> None:
    """Close this thread's finished database connections (CONN_MAX_AGE applies).

    Call it at the end of code run through ``database_sync_to_async``: with the asgiref in use, the
    connection opened inside the wrapped call is not reached by channels' own clean-up, so every
    socket would otherwise leave an idle PostgreSQL connection behind. A connection inside an atomic
    block (a test's transaction) is left alone."""
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close_if_unusable_or_obsolete()


async def run_in_tenant(tenant, func, *args, **kwargs):
    """From a consumer: run sync ``func`` (ORM work) in ``tenant``'s schema on a worker thread, then
    release that thread's connection. ``await run_in_tenant(self.scope["tenant"], load, pk)``."""

    def call():
        try:
            with tenant_context(tenant):
                return func(*args, **kwargs)
        finally:
            release_connections()

    return await database_sync_to_async(call)()


@database_sync_to_async
def resolve(scope):
    try:
        return _resolve(scope)
    finally:
        release_connections()


def _resolve(scope):
    tenant = _resolve_tenant(_header(scope, b"host"))
    if tenant is None:
        return None, AnonymousUser()
    if tenant.is_blocked:
        return tenant, AnonymousUser()
    with tenant_context(tenant):
        user = None
        token = parse_qs(scope.get("query_string", b"").decode()).get("token", [""])[0]
        if token:
            user = _user_from_token(token, tenant)
        else:
            cookies = SimpleCookie()
            cookies.load(_header(scope, b"cookie"))
            morsel = cookies.get(settings.SESSION_COOKIE_NAME)
            if morsel is not None:
                user = _user_from_session(morsel.value)
    return tenant, user or AnonymousUser()


class TenantAuthMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        tenant, user = await resolve(scope)
        scope = {**scope, "tenant": tenant, "user": user}
        return await self.inner(scope, receive, send)


# Close codes every tenant socket uses when it refuses a connection.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_BLOCKED = 4403
CLOSE_NO_TENANT = 4404


def refusal(scope) -> int | None:
    """The close code a tenant socket must refuse ``scope`` with (unknown tenant, blocked tenant,
    anonymous user), or None when the connection may go on."""
    tenant = scope.get("tenant")
    user = scope.get("user")
    if tenant is None:
        return CLOSE_NO_TENANT
    if tenant.is_blocked:
        return CLOSE_BLOCKED
    if user is None or not user.is_authenticated:
        return CLOSE_UNAUTHENTICATED
    return None
