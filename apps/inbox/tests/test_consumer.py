"""The inbox socket over the real Redis channel layer: alpha's staff hear alpha's events, beta's
socket hears none; an agent hears only about conversations he may see (his own, his teams',
unassigned ones) and about one he just lost; refused sockets close with a reason code."""
from __future__ import annotations

import asyncio

import pytest
from django_tenants.utils import schema_context

from apps.notifications.tests.realtime import committed_session, committed_user, connect, in_fresh_thread
from conftest import host_of

pytestmark = pytest.mark.django_db

WS = "/ws/inbox/"


def _make_world(bruno_id: int, carla_id: int) -> dict:
    from apps.accounts.models import Team
    from apps.inbox.tests.helpers_inbox import make_connection, make_contact, make_conversation

    with schema_context("alpha"):
        team = Team.objects.create(name="Socket Vendas")
        team.members.add(bruno_id)
        conn = make_connection("Socket Loja")
        ids = {
            "team": team.pk, "conn": conn.pk,
            "bruno": make_conversation(connection=conn, contact=make_contact("WS Bruno"), assignee_id=bruno_id).pk,
            "carla": make_conversation(connection=conn, contact=make_contact("WS Carla"), assignee_id=carla_id).pk,
            "free": make_conversation(connection=conn, contact=make_contact("WS Free")).pk,
            "vendas": make_conversation(connection=conn, contact=make_contact("WS Vendas"), team=team).pk,
        }
    return ids


def _drop_world(ids: dict) -> None:
    from apps.accounts.models import Team
    from apps.crm.models import Contact
    from apps.inbox.models import Conversation
    from apps.whatsapp.models import Connection
    from tenants.models import WebhookRoute

    with schema_context("alpha"):
        contacts = list(Conversation.objects.filter(connection_id=ids["conn"]).values_list("contact_id", flat=True))
        Conversation.objects.filter(connection_id=ids["conn"]).delete()
        Contact.objects.filter(pk__in=contacts).delete()
        Connection.objects.filter(pk=ids["conn"]).delete()
        WebhookRoute.objects.filter(tenant__schema_name="alpha", connection_id=ids["conn"]).delete()
        Team.objects.filter(pk=ids["team"]).delete()


@pytest.fixture(scope="module")
def agents(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), \
            committed_user("alpha", email="ws-bruno@alpha.test") as bruno, \
            committed_user("alpha", email="ws-carla@alpha.test") as carla, \
            committed_user("alpha", email="ws-analyst@alpha.test", role="analyst") as analyst:
        ids = in_fresh_thread(_make_world, bruno.pk, carla.pk)
        try:
            yield {"bruno": bruno, "carla": carla, "analyst": analyst, "ids": ids}
        finally:
            in_fresh_thread(_drop_world, ids)


def drain(runner, socket, timeout=0.3) -> list[dict]:
    """Every event that arrives until the socket stays quiet for ``timeout`` seconds."""
    got = []
    # receive_nothing waits without cancelling the app (a receive timeout would end it)
    while not runner.run(socket.receive_nothing(timeout=timeout)):
        got.append(runner.run(socket.receive_json_from(timeout=5)))
    return got


def kinds(events, conversation_id) -> list[str]:
    return [e["type"] for e in events
            if e.get("conversation_id") == conversation_id or (e["type"] == "conversation.updated"
                                                               and e["id"] == conversation_id)]


def test_events_reach_only_those_who_may_see_the_conversation(tenant, other_tenant, owner, agents,
                                                              django_capture_on_commit_callbacks):
    from apps.accounts.models import User
    from apps.inbox.models import Conversation
    from apps.inbox.services.conversations import conversation_assign
    from apps.inbox.services.messages import message_log_event

    ids = agents["ids"]
    with schema_context("beta"):
        beta_owner = User.objects.get(email="owner@beta.test")
    with (
        asyncio.Runner() as runner,
        committed_session("alpha", owner) as owner_cookie,
        committed_session("alpha", agents["bruno"]) as bruno_cookie,
        committed_session("alpha", agents["carla"]) as carla_cookie,
        committed_session("beta", beta_owner) as beta_cookie,
    ):
        sockets = {}
        for name, host, cookie in [("owner", host_of(tenant), owner_cookie), ("bruno", host_of(tenant), bruno_cookie),
                                   ("carla", host_of(tenant), carla_cookie),
                                   ("beta", host_of(other_tenant), beta_cookie)]:
            socket, connected, detail = runner.run(connect(host, WS, cookie=cookie))
            assert connected, (name, detail)
            sockets[name] = socket
        try:
            with schema_context("alpha"), django_capture_on_commit_callbacks(execute=True):
                for key in ("bruno", "carla", "free", "vendas"):
                    message_log_event(Conversation.objects.get(pk=ids[key]), text=f"linha {key}")
            heard = {name: drain(runner, socket) for name, socket in sockets.items()}
            created = {name: sorted(e["conversation_id"] for e in events if e["type"] == "message.created")
                       for name, events in heard.items()}
            assert created["owner"] == sorted(ids[k] for k in ("bruno", "carla", "free", "vendas"))
            assert created["bruno"] == sorted([ids["bruno"], ids["free"], ids["vendas"]])
            assert created["carla"] == sorted([ids["carla"], ids["free"]])
            assert heard["beta"] == []
            event = next(e for e in heard["owner"] if e.get("conversation_id") == ids["free"])
            assert event["text"] == "linha free" and event["sender_kind"] == "system"

            # Bruno's conversation goes to Carla: she hears it now, he hears it one last time (his
            # list drops it), beta hears nothing
            with schema_context("alpha"), django_capture_on_commit_callbacks(execute=True):
                conv = Conversation.objects.get(pk=ids["bruno"])
                conversation_assign(conversation=conv, assignee=User.objects.get(pk=agents["carla"].pk), by=owner)
            heard = {name: drain(runner, socket) for name, socket in sockets.items()}
            assert "conversation.updated" in kinds(heard["carla"], ids["bruno"])
            assert "conversation.updated" in kinds(heard["bruno"], ids["bruno"])
            assert "conversation.updated" in kinds(heard["owner"], ids["bruno"])
            update = next(e for e in heard["carla"] if e["type"] == "conversation.updated")
            assert update["assignee_id"] == agents["carla"].pk
            assert heard["beta"] == []

            # from now on Bruno hears nothing more about it
            with schema_context("alpha"), django_capture_on_commit_callbacks(execute=True):
                message_log_event(Conversation.objects.get(pk=ids["bruno"]), text="depois")
            heard = {name: drain(runner, socket) for name, socket in sockets.items()}
            assert kinds(heard["carla"], ids["bruno"]) == ["message.created"]
            assert kinds(heard["bruno"], ids["bruno"]) == []

            # the line answers a ping
            runner.run(sockets["bruno"].send_json_to({"type": "ping"}))
            assert runner.run(sockets["bruno"].receive_json_from(timeout=5)) == {"type": "pong"}
        finally:
            for socket in sockets.values():
                runner.run(socket.disconnect())


def test_refused_sockets_close_with_a_reason(tenant, agents):
    with asyncio.Runner() as runner:
        _, connected, code = runner.run(connect(host_of(tenant), WS))
        assert not connected and code == 4401
        _, connected, code = runner.run(connect("nowhere.localhost", WS))
        assert not connected and code == 4404
        with committed_session("alpha", agents["analyst"]) as cookie:
            _, connected, code = runner.run(connect(host_of(tenant), WS, cookie=cookie))
        assert not connected and code == 4403
