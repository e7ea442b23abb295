"""Helpers for WebSocket tests.

The Channels middleware runs its queries through ``database_sync_to_async`` in another thread with
its own database connection, so it only sees COMMITTED rows, never the test's open transaction.
What a socket must find (a session, a user, a tenant's status) is therefore written here in a fresh
thread (its own autocommit connection) and removed again afterwards.

Sync tests drive the sockets with one ``asyncio.Runner`` so that the test's own (sync) database work
can run on the main thread, inside the test transaction, between the async steps.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

from django.conf import settings
from django.db import connections

WS_PATH = "/ws/notifications/"
TIMEOUT = 5


def in_fresh_thread(fn, *args, **kwargs):
    """Run ``fn`` in a new thread (its own connection, autocommit) and return its result."""
    result: dict = {}

    def target():
        try:
            result["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised in the caller
            result["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(30)
    if thread.is_alive():
        raise RuntimeError("database work in the helper thread did not finish (lock held by the test?)")
    if "error" in result:
        raise result["error"]
    return result.get("value")


def _create_session(schema_name: str, user_id: int) -> str:
    from importlib import import_module

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django_tenants.utils import schema_context

    with schema_context(schema_name):
        user = get_user_model().objects.get(pk=user_id)
        store = import_module(settings.SESSION_ENGINE).SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        return store.session_key


def _delete_session(schema_name: str, session_key: str) -> None:
    from django.contrib.sessions.models import Session
    from django_tenants.utils import schema_context

    with schema_context(schema_name):
        Session.objects.filter(session_key=session_key).delete()


@contextmanager
def committed_session(schema_name: str, user):
    """A committed login session of ``user`` in ``schema_name``; yields the Cookie header value."""
    key = in_fresh_thread(_create_session, schema_name, user.pk)
    try:
        yield f"{settings.SESSION_COOKIE_NAME}={key}"
    finally:
        in_fresh_thread(_delete_session, schema_name, key)


def access_token_for(schema_name: str, user) -> str:
    """An access JWT for ``user`` bound to ``schema_name`` (no database write)."""
    from rest_framework_simplejwt.tokens import AccessToken

    from apps.accounts.authentication import SCHEMA_CLAIM

    token = AccessToken.for_user(user)
    token[SCHEMA_CLAIM] = schema_name
    return str(token)


def _create_user(schema_name: str, email: str, role: str, active: bool):
    from auditlog.context import disable_auditlog
    from django.contrib.auth import get_user_model
    from django_tenants.utils import schema_context

    with schema_context(schema_name), disable_auditlog():
        return get_user_model().objects.create_user(email, "pw-not-used-123", name=email.split("@")[0], role=role,
                                                    is_active=active)


def _delete_user(schema_name: str, user_id: int) -> None:
    from auditlog.context import disable_auditlog
    from django.contrib.auth import get_user_model
    from django_tenants.utils import schema_context

    with schema_context(schema_name), disable_auditlog():
        get_user_model().objects.filter(pk=user_id).delete()


@contextmanager
def committed_user(schema_name: str, *, email: str, role: str = "agent", active: bool = True):
    """A committed user. Use from a module-scoped fixture: it is deleted after the module, when no
    test transaction still holds rows that point at it."""
    user = in_fresh_thread(_create_user, schema_name, email, role, active)
    try:
        yield user
    finally:
        in_fresh_thread(_delete_user, schema_name, user.pk)


def _set_status(schema_name: str, status: str) -> str:
    from tenants.models import Tenant
    from tenants.services import tenant_set_status

    tenant = Tenant.objects.get(schema_name=schema_name)
    previous = tenant.status
    tenant_set_status(tenant=tenant, status=status, reason="test")
    return previous


@contextmanager
def committed_status(schema_name: str, status: str):
    """Commit a tenant status (so socket threads see it) and restore the previous one afterwards.
    The test must not hold a lock on the tenant row (no status change in its own transaction)."""
    previous = in_fresh_thread(_set_status, schema_name, status)
    try:
        yield
    finally:
        in_fresh_thread(_set_status, schema_name, previous)


def communicator(host: str, path: str = WS_PATH, *, cookie: str | None = None, origin: str | None = None):
    from channels.testing import WebsocketCommunicator

    from saas.asgi import application

    headers = [(b"host", host.encode()), (b"origin", (origin or f"http://{host}").encode())]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def connect(host: str, path: str = WS_PATH, **kwargs):
    """Open a socket; returns (communicator, connected, close_code_or_subprotocol)."""
    socket = communicator(host, path, **kwargs)
    connected, detail = await socket.connect(timeout=TIMEOUT)
    return socket, connected, detail
