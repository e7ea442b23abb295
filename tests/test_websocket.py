"""The notifications socket (and the Channels middleware every consumer sits behind): it opens only
for a signed-in user of the company whose domain it is, by session cookie or ?token=JWT."""
import asyncio

import pytest

from apps.notifications.consumers import CLOSE_NO_TENANT, CLOSE_UNAUTHENTICATED
from apps.notifications.tests.realtime import access_token_for, committed_session, connect
from conftest import host_of

pytestmark = pytest.mark.django_db


def _outcome(host, **kwargs):
    async def scenario():
        socket, connected, detail = await connect(host, **kwargs)
        if connected:
            await socket.send_json_to({"type": "ping"})
            reply = await socket.receive_json_from(timeout=5)
            await socket.disconnect()
            return connected, reply
        return connected, detail

    return asyncio.run(scenario())


def _beta_owner(other_tenant):
    from django_tenants.utils import schema_context

    from apps.accounts.models import User

    with schema_context(other_tenant.schema_name):
        return User.objects.get(email="owner@beta.test")


def test_session_cookie_of_the_tenants_user_connects(tenant, owner):
    with committed_session(tenant.schema_name, owner) as cookie:
        assert _outcome(host_of(tenant), cookie=cookie) == (True, {"type": "pong"})


def test_jwt_in_query_string_connects(tenant, owner):
    token = access_token_for(tenant.schema_name, owner)
    assert _outcome(host_of(tenant), path=f"/ws/notifications/?token={token}") == (True, {"type": "pong"})


def test_anonymous_is_refused(tenant):
    assert _outcome(host_of(tenant)) == (False, CLOSE_UNAUTHENTICATED)


def test_garbage_token_and_garbage_cookie_are_refused(tenant):
    assert _outcome(host_of(tenant), path="/ws/notifications/?token=not-a-jwt") == (False, CLOSE_UNAUTHENTICATED)
    assert _outcome(host_of(tenant), cookie="sessionid=doesnotexist") == (False, CLOSE_UNAUTHENTICATED)


def test_other_tenants_token_is_refused_even_with_the_same_user_id(tenant, owner, other_tenant):
    beta_owner = _beta_owner(other_tenant)
    assert beta_owner.pk == owner.pk  # the same id exists in alpha: only the schema claim tells them apart
    token = access_token_for(other_tenant.schema_name, beta_owner)
    assert _outcome(host_of(tenant), path=f"/ws/notifications/?token={token}") == (False, CLOSE_UNAUTHENTICATED)
    # while on its own domain the same token works
    assert _outcome(host_of(other_tenant), path=f"/ws/notifications/?token={token}")[0] is True


def test_other_tenants_session_is_refused(tenant, other_tenant):
    beta_owner = _beta_owner(other_tenant)
    with committed_session(other_tenant.schema_name, beta_owner) as cookie:
        assert _outcome(host_of(tenant), cookie=cookie) == (False, CLOSE_UNAUTHENTICATED)
        assert _outcome(host_of(other_tenant), cookie=cookie)[0] is True


def test_unknown_host_is_refused(tenant, owner):
    token = access_token_for(tenant.schema_name, owner)
    assert _outcome("nobody.localhost", path=f"/ws/notifications/?token={token}") == (False, CLOSE_NO_TENANT)
    # the public domain is no tenant either
    assert _outcome("localhost", path=f"/ws/notifications/?token={token}") == (False, CLOSE_NO_TENANT)


def test_cross_site_origin_is_refused(tenant, owner):
    """A page on another site cannot ride the user's cookie into the socket."""
    with committed_session(tenant.schema_name, owner) as cookie:
        connected, _ = _outcome(host_of(tenant), cookie=cookie, origin="http://evil.example")
        assert connected is False


def test_inactive_users_session_is_refused(tenant, owner):
    from apps.notifications.tests.realtime import committed_user

    with committed_user(tenant.schema_name, email="gone@alpha.test", active=False) as user:
        with committed_session(tenant.schema_name, user) as cookie:
            assert _outcome(host_of(tenant), cookie=cookie) == (False, CLOSE_UNAUTHENTICATED)
        token = access_token_for(tenant.schema_name, user)
        assert _outcome(host_of(tenant), path=f"/ws/notifications/?token={token}") == (False, CLOSE_UNAUTHENTICATED)


def _open_connections():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # else the view is frozen for the transaction
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_sockets_leave_no_database_connection_open(tenant, owner):
    """The middleware's worker-thread connection is closed after each handshake (CONN_MAX_AGE=0)."""
    before = _open_connections()
    _outcome(host_of(tenant))
    assert _open_connections() == before
    _outcome(host_of(tenant), path=f"/ws/notifications/?token={access_token_for(tenant.schema_name, owner)}")
    assert _open_connections() == before


def test_run_in_tenant_queries_that_schema_and_leaves_no_connection_open(tenant, other_tenant):
    from apps.accounts.models import User
    from tenants.channels import run_in_tenant

    def owner_email():
        return User.objects.get(pk=1).email

    before = _open_connections()

    async def both():
        return await run_in_tenant(tenant, owner_email), await run_in_tenant(other_tenant, owner_email)

    assert asyncio.run(both()) == ("owner@alpha.test", "owner@beta.test")
    assert _open_connections() == before
