"""Assignment: manual (agent, team, none) with a system line and a notification; automatic per
team (oldest waiting first, fewest open conversations, capacity, availability), race-safe under
concurrent runs; the bot hand-off entry point; status changes and reopening."""
from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.inbox.tests.helpers_inbox import make_connection, make_contact, make_conversation
from conftest import make_user


@pytest.fixture(autouse=True)
def _english():
    """Stored lines and provider errors are written in the active language (pt-BR by default);
    these tests read them in English."""
    from django.utils import translation

    with translation.override("en"):
        yield

def ago(minutes):
    return timezone.now() - timedelta(minutes=minutes)


@pytest.fixture
def team_setup(tenant):
    from apps.accounts.models import Team

    ana = make_user(tenant, email="ana.agent@alpha.test", name="Ana Agent")
    bia = make_user(tenant, email="bia.agent@alpha.test", name="Bia Agent")
    caio = make_user(tenant, email="caio.agent@alpha.test", name="Caio Agent")
    with schema_context("alpha"):
        team = Team.objects.create(name="Vendas", auto_assign=True)
        team.members.add(ana, bia, caio)
        conn = make_connection("Loja")
    return {"team": team, "ana": ana, "bia": bia, "caio": caio, "conn": conn}


def waiting(conn, team, minutes, name="Cliente"):
    return make_conversation(connection=conn, contact=make_contact(name), team=team, waiting_since=ago(minutes),
                             bot_state="waiting_human")


def held_by(user, conn, n):
    for _ in range(n):
        make_conversation(connection=conn, contact=make_contact(), assignee=user)


@pytest.mark.django_db
def test_fewest_open_conversations_wins_oldest_waiting_first(team_setup):
    from apps.inbox.services.conversations import conversation_auto_assign

    s = team_setup
    with schema_context("alpha"):
        held_by(s["ana"], s["conn"], 2)
        held_by(s["caio"], s["conn"], 1)
        # bia: none open (a resolved one does not count)
        make_conversation(connection=s["conn"], contact=make_contact(), assignee=s["bia"], status="resolved")
        newer = waiting(s["conn"], s["team"], 1, "Novo")
        older = waiting(s["conn"], s["team"], 10, "Antigo")
        assigned = conversation_auto_assign(s["team"])
        assert [c.pk for c in assigned] == [older.pk, newer.pk]
        older.refresh_from_db()
        newer.refresh_from_db()
        # oldest to bia (0 open); then bia and caio both have 1: the lower id of the two
        assert older.assignee == s["bia"]
        assert newer.assignee == min(s["bia"], s["caio"], key=lambda u: u.pk)
        assert older.assigned_at is not None and older.team == s["team"]
        line = older.messages.get(type="event")
        assert line.sender_kind == "system" and line.payload["auto"] is True
        from django.utils import translation

        from apps.inbox.services.conversations import event_text

        assert line.text == event_text(line.payload)  # stored in the language active at the time
        with translation.override("en"):  # and shown in each reader's language
            assert event_text(line.payload) == "Assigned to Bia Agent (Vendas) automatically"


@pytest.mark.django_db
def test_capacity_and_availability_are_respected(team_setup):
    from apps.accounts.models import User
    from apps.inbox.services.conversations import conversation_auto_assign

    s = team_setup
    with schema_context("alpha"):
        User.objects.filter(pk=s["ana"].pk).update(chat_capacity=1)
        User.objects.filter(pk=s["bia"].pk).update(is_available=False)
        User.objects.filter(pk=s["caio"].pk).update(chat_capacity=2)
        held_by(s["caio"], s["conn"], 1)
        convs = [waiting(s["conn"], s["team"], 10 - i) for i in range(4)]
        assigned = conversation_auto_assign(s["team"])
        assert len(assigned) == 2  # ana has room for 1, caio for 1 more; bia is away
        owners = {c.pk: c.assignee_id for c in assigned}
        assert sorted(owners.values()) == sorted([s["ana"].pk, s["caio"].pk])
        assert set(owners) == {convs[0].pk, convs[1].pk}  # the two oldest
        for c in convs[2:]:
            c.refresh_from_db()
            assert c.assignee_id is None  # still waiting in the team's queue
        # bia comes back: the next oldest goes to her
        User.objects.filter(pk=s["bia"].pk).update(is_available=True)
        assert [c.pk for c in conversation_auto_assign(s["team"])] == [convs[2].pk, convs[3].pk]


@pytest.mark.django_db
def test_resolving_frees_capacity_for_the_queue(team_setup, owner):
    from apps.accounts.models import User
    from apps.inbox.services.conversations import conversation_set_status

    s = team_setup
    with schema_context("alpha"):
        s["team"].members.remove(s["bia"], s["caio"])
        User.objects.filter(pk=s["ana"].pk).update(chat_capacity=1)
        current = make_conversation(connection=s["conn"], contact=make_contact(), assignee=s["ana"], team=s["team"])
        queued = waiting(s["conn"], s["team"], 5)
        conversation_set_status(conversation=current, status="resolved", by=s["ana"])
        queued.refresh_from_db()
        assert queued.assignee_id == s["ana"].pk


@pytest.mark.django_db
def test_team_without_auto_assign_only_queues(team_setup):
    from apps.inbox.services.conversations import conversation_auto_assign

    s = team_setup
    with schema_context("alpha"):
        s["team"].auto_assign = False
        s["team"].save()
        conv = waiting(s["conn"], s["team"], 3)
        assert conversation_auto_assign(s["team"]) == []
        conv.refresh_from_db()
        assert conv.assignee_id is None


@pytest.mark.django_db
def test_handoff_assign_uses_the_connection_default_team(team_setup):
    from apps.inbox.services.conversations import conversation_handoff_assign

    s = team_setup
    with schema_context("alpha"):
        s["conn"].default_team = s["team"]
        s["conn"].save()
        conv = make_conversation(connection=s["conn"], contact=make_contact("Rita"), bot_state="waiting_human")
        conversation_handoff_assign(conv)
        assert conv.team_id == s["team"].pk
        assert conv.assignee_id in {s["ana"].pk, s["bia"].pk, s["caio"].pk}
        assert conv.waiting_since is not None
        # no team anywhere: it waits unassigned, visible to every agent
        other = make_conversation(connection=make_connection("Sem time"), contact=make_contact("Leo"))
        conversation_handoff_assign(other)
        other.refresh_from_db()
        assert (other.assignee_id, other.team_id) == (None, None) and other.waiting_since is not None


@pytest.mark.django_db
def test_manual_assignment_writes_a_line_and_notifies(tenant, team_setup, owner):
    from apps.inbox.services.conversations import conversation_assign
    from apps.notifications.models import Notification

    s = team_setup
    with schema_context("alpha"):
        s["team"].auto_assign = False
        s["team"].save()
        conv = make_conversation(connection=s["conn"], contact=make_contact("Marta"))
        conversation_assign(conversation=conv, team=s["team"], by=owner)
        conversation_assign(conversation=conv, assignee=s["bia"], by=owner)
        assert (conv.assignee_id, conv.team_id) == (s["bia"].pk, s["team"].pk)
        conversation_assign(conversation=conv, assignee=s["bia"], by=owner)  # no change: no new line
        conversation_assign(conversation=conv, assignee=None, team=None, by=owner)
        texts = list(conv.messages.filter(type="event").values_list("text", flat=True))
        assert texts == ["Assigned to Vendas", "Assigned to Bia Agent (Vendas)", "Unassigned"]
        note = Notification.objects.get(recipient=s["bia"])
        assert note.link == f"/inbox/c/{conv.pk}/" and "Marta" in note.title
        # an agent who may not reply cannot be given conversations
        analyst = make_user(tenant, email="an@alpha.test", role="analyst")
        with pytest.raises(ValidationError):
            conversation_assign(conversation=conv, assignee=analyst, by=owner)


@pytest.mark.django_db
def test_status_changes_and_reopen(team_setup, owner):
    from apps.inbox.services.conversations import conversation_set_status

    s = team_setup
    with schema_context("alpha"):
        contact = make_contact("Zeca")
        conv = make_conversation(connection=s["conn"], contact=contact, first_human_reply_at=ago(30),
                                 unread_count=2, turn_due_at=timezone.now())
        conversation_set_status(conversation=conv, status="resolved", by=owner)
        conv.refresh_from_db()
        assert conv.status == "resolved" and conv.resolved_at is not None
        assert (conv.turn_due_at, conv.unread_count) == (None, 0)
        conversation_set_status(conversation=conv, status="open", by=owner)
        conv.refresh_from_db()
        assert conv.resolved_at is None and conv.waiting_since is not None
        assert conv.first_human_reply_at is None  # the first-response clock restarts
        texts = list(conv.messages.filter(type="event").values_list("text", flat=True))
        assert texts == [f"Resolved by {owner.get_full_name()}", f"Reopened by {owner.get_full_name()}"]
        with pytest.raises(ValidationError):
            conversation_set_status(conversation=conv, status="archived", by=owner)
        # a second open conversation with the same customer on the same number blocks a reopen
        conversation_set_status(conversation=conv, status="resolved", by=owner)
        make_conversation(connection=s["conn"], contact=contact)
        with pytest.raises(ValidationError):
            conversation_set_status(conversation=conv, status="open", by=owner)
        conv.refresh_from_db()
        assert conv.status == "resolved"


# --- race safety: real concurrent transactions on committed rows ------------------------------

@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    """No test transaction (the threads must see the rows); the test removes what it made."""
    with django_db_blocker.unblock():
        yield
        connection.set_schema_to_public()


def test_concurrent_auto_assign_never_exceeds_capacity_or_double_assigns(committed):
    from apps.accounts.models import Team, User
    from apps.inbox.models import Conversation
    from apps.inbox.services.conversations import conversation_auto_assign
    from apps.crm.models import Contact
    from apps.whatsapp.models import Connection
    from tenants.models import WebhookRoute

    tag = uuid.uuid4().hex[:6]
    with schema_context("alpha"):
        team = Team.objects.create(name=f"Race {tag}", auto_assign=True)
        agents = [User.objects.create_user(f"race{i}-{tag}@alpha.test", "x", name=f"R{i}", role="agent",
                                           chat_capacity=2) for i in range(2)]
        team.members.add(*agents)
        conn = make_connection(f"Race {tag}")
        convs = [make_conversation(connection=conn, contact=make_contact(f"C{i}"), team=team,
                                   waiting_since=ago(20 - i)) for i in range(6)]
    try:
        barrier = threading.Barrier(4)
        errors = []

        def run():
            try:
                barrier.wait()
                with schema_context("alpha"):
                    conversation_auto_assign(Team.objects.get(pk=team.pk))
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors, errors
        with schema_context("alpha"):
            rows = list(Conversation.objects.filter(pk__in=[c.pk for c in convs]).order_by("waiting_since"))
            per_agent = {a.pk: sum(1 for r in rows if r.assignee_id == a.pk) for a in agents}
            assert per_agent == {agents[0].pk: 2, agents[1].pk: 2}
            assert [r.assignee_id is not None for r in rows] == [True] * 4 + [False] * 2  # oldest first
            # one assignment line per assigned conversation, never two
            for r in rows[:4]:
                assert r.messages.filter(type="event").count() == 1
    finally:
        with schema_context("alpha"):
            contact_ids = [c.contact_id for c in convs]
            Conversation.objects.filter(connection=conn).delete()
            Contact.objects.filter(pk__in=contact_ids).delete()
            Connection.objects.filter(pk=conn.pk).delete()
            WebhookRoute.objects.filter(connection_id=conn.pk, tenant__schema_name="alpha").delete()
            from apps.notifications.models import Notification

            Notification.objects.filter(recipient__in=agents).delete()
            User.objects.filter(pk__in=[a.pk for a in agents]).delete()
            team.delete()
