"""The sidebar: each role sees the entries of its capabilities, and an entry with a better
replacement for a role (Home -> Overview for those who see the dashboard) is not shown twice."""
from __future__ import annotations

from django_tenants.utils import schema_context

from apps.core.navigation import nav_for
from conftest import make_user


def _keys(user) -> set[str]:
    return {entry["key"] for entries in nav_for(user, "/").values() for entry in entries}


def test_admin_sees_the_overview_instead_of_home_and_an_agent_the_opposite(tenant, owner):
    with schema_context(tenant.schema_name):
        agent = make_user(tenant, email="nav-agent@alpha.test", role="agent")
        admin_keys, agent_keys = _keys(owner), _keys(agent)
    assert "overview" in admin_keys and "home" not in admin_keys
    assert "home" in agent_keys and "overview" not in agent_keys
    assert {"inbox", "sales"} <= agent_keys and "products" not in agent_keys  # store.manage is not an agent's
