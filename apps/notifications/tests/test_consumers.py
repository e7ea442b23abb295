"""Live push over the real Redis channel layer: the recipient's socket hears it; another user's
socket and the socket of the same user id in another company do not."""
import asyncio

import pytest
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.notifications.services import notification_mark_read, notification_send
from apps.notifications.tests.realtime import committed_session, committed_user, connect
from conftest import host_of

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def colleague(django_db_setup, django_db_blocker):
    """A second committed user of alpha (sockets only see committed rows)."""
    with django_db_blocker.unblock(), committed_user("alpha", email="colleague@alpha.test") as user:
        yield user


def test_push_reaches_only_the_recipients_socket(tenant, owner, other_tenant, colleague,
                                                 django_capture_on_commit_callbacks):
    with schema_context(other_tenant.schema_name):
        beta_owner = User.objects.get(email="owner@beta.test")
    assert beta_owner.pk == owner.pk  # same id, other company
    alpha_host, beta_host = host_of(tenant), host_of(other_tenant)

    with (
        asyncio.Runner() as runner,
        committed_session("alpha", owner) as owner_cookie,
        committed_session("alpha", colleague) as colleague_cookie,
        committed_session("beta", beta_owner) as beta_cookie,
    ):
        sockets = {}
        for name, host, cookie in [("owner", alpha_host, owner_cookie), ("colleague", alpha_host, colleague_cookie),
                                   ("beta", beta_host, beta_cookie)]:
            socket, connected, _ = runner.run(connect(host, cookie=cookie))
            assert connected, name
            sockets[name] = socket
        try:
            with schema_context("alpha"), django_capture_on_commit_callbacks(execute=True):
                (sent,) = notification_send(user=owner, kind="order", title="New order #12", body="2 kg ham",
                                            link="/store/orders/12/")
            event = runner.run(sockets["owner"].receive_json_from(timeout=5))
            assert event["type"] == "notification.created"
            assert event["id"] == sent.pk
            assert (event["title"], event["body"], event["link"]) == ("New order #12", "2 kg ham", "/store/orders/12/")
            assert event["unread_count"] == 1
            assert runner.run(sockets["colleague"].receive_nothing(timeout=0.5))
            assert runner.run(sockets["beta"].receive_nothing(timeout=0.3))

            # reading it announces the new count (other open tabs update their badge)
            with schema_context("alpha"), django_capture_on_commit_callbacks(execute=True):
                notification_mark_read(user=owner, all=True)
            event = runner.run(sockets["owner"].receive_json_from(timeout=5))
            assert event == {"type": "notification.read", "unread_count": 0}
            assert runner.run(sockets["beta"].receive_nothing(timeout=0.3))
        finally:
            for socket in sockets.values():
                runner.run(socket.disconnect())


def test_nothing_is_announced_before_commit(tenant, owner, django_capture_on_commit_callbacks):
    with asyncio.Runner() as runner, committed_session("alpha", owner) as cookie:
        socket, connected, _ = runner.run(connect(host_of(tenant), cookie=cookie))
        assert connected
        try:
            with schema_context("alpha"), django_capture_on_commit_callbacks(execute=False) as callbacks:
                notification_send(user=owner, kind="info", title="Pending")
            assert callbacks  # queued for the commit, which a rollback would drop
            assert runner.run(socket.receive_nothing(timeout=0.3))
        finally:
            runner.run(socket.disconnect())


def test_team_notification_reaches_each_member_socket(tenant, owner, colleague, django_capture_on_commit_callbacks):
    from apps.accounts.services import team_create

    with asyncio.Runner() as runner, committed_session("alpha", owner) as c1, \
            committed_session("alpha", colleague) as c2:
        first, ok1, _ = runner.run(connect(host_of(tenant), cookie=c1))
        second, ok2, _ = runner.run(connect(host_of(tenant), cookie=c2))
        assert ok1 and ok2
        try:
            with schema_context("alpha"), django_capture_on_commit_callbacks(execute=True):
                team = team_create(name="Delivery", members=[owner, colleague])
                notification_send(team=team, kind="info", title="Route changed")
            assert runner.run(first.receive_json_from(timeout=5))["title"] == "Route changed"
            assert runner.run(second.receive_json_from(timeout=5))["title"] == "Route changed"
        finally:
            runner.run(first.disconnect())
            runner.run(second.disconnect())
