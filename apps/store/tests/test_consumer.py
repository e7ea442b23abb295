"""The store socket (``/ws/store/``) over the real Redis channel layer and the real tenant middleware:
alpha's sellers hear alpha's new and changed orders, beta's socket hears nothing of them; refused
sockets (anonymous, no store.sell, unknown host) close with a reason code."""
from __future__ import annotations

import asyncio

import pytest
from django_tenants.utils import schema_context

from apps.notifications.tests.realtime import TIMEOUT, committed_session, committed_user
from conftest import host_of

from .conftest import make_order, make_product

pytestmark = pytest.mark.django_db

WS = "/ws/store/"


def _application():
    """The project's websocket stack; with /ws/store/ routed by saas.routing once the lead adds it,
    else the same middleware around this app's routes (so the test runs either way)."""
    from channels.routing import URLRouter
    from channels.security.websocket import AllowedHostsOriginValidator

    from saas.routing import websocket_urlpatterns
    from tenants.channels import TenantAuthMiddleware

    if any(str(p.pattern) == "ws/store/" for p in websocket_urlpatterns):
        from saas.asgi import application

        return application
    from apps.store.routing import websocket_urlpatterns as store_ws

    return AllowedHostsOriginValidator(TenantAuthMiddleware(URLRouter(store_ws)))


async def connect(host: str, *, cookie: str | None = None):
    from channels.testing import WebsocketCommunicator

    headers = [(b"host", host.encode()), (b"origin", f"http://{host}".encode())]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    socket = WebsocketCommunicator(_application(), WS, headers=headers)
    connected, detail = await socket.connect(timeout=TIMEOUT)
    return socket, connected, detail


def drain(runner, socket, timeout=0.3) -> list[dict]:
    got = []
    while not runner.run(socket.receive_nothing(timeout=timeout)):
        got.append(runner.run(socket.receive_json_from(timeout=5)))
    return got


@pytest.fixture(scope="module")
def people(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), \
            committed_user("alpha", email="ws-store-agent@alpha.test", role="agent") as agent, \
            committed_user("alpha", email="ws-store-analyst@alpha.test", role="analyst") as analyst:
        yield {"agent": agent, "analyst": analyst}


def test_order_events_reach_only_the_own_tenant(tenant, other_tenant, owner, people,
                                                django_capture_on_commit_callbacks):
    from apps.accounts.models import User
    from apps.store.services.orders import order_advance

    with schema_context("beta"):
        beta_owner = User.objects.get(email="owner@beta.test")
    with (
        asyncio.Runner() as runner,
        committed_session("alpha", owner) as owner_cookie,
        committed_session("alpha", people["agent"]) as agent_cookie,
        committed_session("beta", beta_owner) as beta_cookie,
    ):
        sockets = {}
        for name, host, cookie in [("owner", host_of(tenant), owner_cookie), ("agent", host_of(tenant), agent_cookie),
                                   ("beta", host_of(other_tenant), beta_cookie)]:
            socket, connected, detail = runner.run(connect(host, cookie=cookie))
            assert connected, (name, detail)
            sockets[name] = socket
        try:
            with schema_context("alpha"), django_capture_on_commit_callbacks(execute=True):
                order = make_order([(make_product("Queijo socket", price="12.30"), 2)], payment_method="pix")
            heard = {name: drain(runner, socket) for name, socket in sockets.items()}
            for name in ("owner", "agent"):
                placed = [e for e in heard[name] if e["type"] == "order.placed"]
                assert len(placed) == 1, (name, heard[name])
                assert placed[0]["id"] == order.pk and placed[0]["number"] == order.number
                assert placed[0]["total"] == "24.60" and placed[0]["status"] == "placed"
            assert heard["beta"] == []

            with schema_context("alpha"), django_capture_on_commit_callbacks(execute=True):
                order_advance(order, user=owner)
            heard = {name: drain(runner, socket) for name, socket in sockets.items()}
            updated = [e for e in heard["agent"] if e["type"] == "order.updated"]
            assert [(e["id"], e["status"], e["previous_status"]) for e in updated] == [
                (order.pk, "confirmed", "placed")]
            assert heard["beta"] == []

            # and beta's own orders reach beta only
            with schema_context("beta"), django_capture_on_commit_callbacks(execute=True):
                beta_order = make_order([(make_product("Pizza socket", price="40.00"), 1)])
            heard = {name: drain(runner, socket) for name, socket in sockets.items()}
            assert [e["id"] for e in heard["beta"] if e["type"] == "order.placed"] == [beta_order.pk]
            assert heard["owner"] == [] and heard["agent"] == []

            runner.run(sockets["agent"].send_json_to({"type": "ping"}))
            assert runner.run(sockets["agent"].receive_json_from(timeout=5)) == {"type": "pong"}
        finally:
            for socket in sockets.values():
                runner.run(socket.disconnect())


def test_refused_sockets_close_with_a_reason(tenant, people):
    with asyncio.Runner() as runner:
        _, connected, code = runner.run(connect(host_of(tenant)))
        assert not connected and code == 4401
        _, connected, code = runner.run(connect("nowhere.localhost"))
        assert not connected and code == 4404
        with committed_session("alpha", people["analyst"]) as cookie:
            _, connected, code = runner.run(connect(host_of(tenant), cookie=cookie))
        assert not connected and code == 4403
