"""The 24 h rule's hand-back: when the sweep returns a conversation from humans to the assistant,
the assistant says it is back (once), and a customer nobody answered is emailed to the team as
"atendimento pendente". Staff activity pushes the due time; 0 hours turns the rule off; a paused
bot that staff scheduled to resume comes back silently; a send that fails never breaks the sweep;
two sweeps at once (threads with their own connections on committed data) return each
conversation exactly once."""
from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone, translation
from django_tenants.utils import schema_context

from apps.inbox.tests.helpers_inbox import make_connection, make_contact, make_conversation

# (no module-wide django_db mark: the concurrent test must run outside the test transaction;
# the others get the database through the ``tenant`` fixture)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def expected_return_text(assistant=None) -> str:
    """The hook speaks the tenant's language (alpha: pt-br), whatever the caller's is."""
    from apps.agents.defaults import message_for

    with translation.override("pt-br"):
        return message_for(assistant, "return_message")


def ai_texts(conversation) -> list[str]:
    from apps.inbox.models import Message

    return list(Message.objects.filter(conversation=conversation, sender_kind="ai").order_by("id")
                .values_list("text", flat=True))


def events_of(conversation) -> list[dict]:
    from apps.inbox.models import Message

    return list(Message.objects.filter(conversation=conversation, type="event").order_by("id")
                .values_list("payload", flat=True))


@pytest.fixture
def team(tenant):
    """A team with one member who reads English (the email is written in the reader's language)."""
    from apps.accounts.models import Team, User

    from conftest import make_user

    user = make_user(tenant, email="ana@alpha.test", name="Ana Lima")
    with schema_context("alpha"):
        User.objects.filter(pk=user.pk).update(language="en")
        team = Team.objects.create(name="Atendimento")
        team.members.add(user)
    return team


@pytest.fixture
def assistant(tenant):
    """Alpha's default assistant, with the default texts of its tone."""
    from apps.agents.models import Assistant

    with schema_context("alpha"):
        return Assistant.objects.create(name="Assistente", is_default=True)


@pytest.fixture
def waiting(tenant, team, assistant):
    """A customer handed off to the team just now (due back in 24 h)."""
    from apps.inbox.services.bot import bot_handoff

    with schema_context("alpha"):
        conversation = make_conversation(contact=make_contact("Maria Souza"))
        bot_handoff(conversation, reason="no answer in the knowledge base", team=team)
        conversation.refresh_from_db()
    return conversation


def sweep(now=None, **kw):
    from apps.inbox.services.bot import bot_resume_due

    return bot_resume_due(now=now, **kw)


def test_24h_return_time_travel_sends_the_return_message_once_and_emails_the_team(
        tenant, waiting, mailoutbox, django_capture_on_commit_callbacks):
    from apps.core.urls_util import tenant_absolute_url

    handed_off = timezone.now()
    with schema_context("alpha"):
        assert waiting.bot_state == "waiting_human"
        assert abs((waiting.bot_resume_at - handed_off) - timedelta(hours=24)) < timedelta(minutes=1)

        with django_capture_on_commit_callbacks(execute=True):
            assert sweep(now=handed_off + timedelta(hours=23)) == 0  # not yet
        waiting.refresh_from_db()
        assert waiting.bot_state == "waiting_human" and ai_texts(waiting) == []

        with django_capture_on_commit_callbacks(execute=True):
            assert sweep(now=handed_off + timedelta(hours=24, minutes=1)) == 1
        with django_capture_on_commit_callbacks(execute=True):
            assert sweep(now=handed_off + timedelta(hours=48)) == 0  # already back: nothing again
        waiting.refresh_from_db()
        assert (waiting.bot_state, waiting.bot_resume_at) == ("ai_active", None)
        assert ai_texts(waiting) == [expected_return_text()]
    link = tenant_absolute_url(tenant, reverse("inbox:conversation-detail", args=[waiting.pk]))

    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert email.to == ["ana@alpha.test"]
    assert email.subject == "[Alpha Frios] Pending conversation: Maria Souza"
    assert link in email.body and "Maria Souza" in email.body


def test_the_connections_assistant_speaks_and_its_hand_off_team_is_emailed(tenant, team, mailoutbox,
                                                                           django_capture_on_commit_callbacks):
    """The conversation has no team: the email goes to the hand-off team of the assistant of the
    conversation's number (not the tenant's default assistant)."""
    from apps.agents.models import Assistant
    from apps.inbox.services.bot import bot_handoff

    with schema_context("alpha"):
        Assistant.objects.create(name="Geral", return_message="Estou de volta.", is_default=True)
        shop = Assistant.objects.create(name="Loja", return_message="Voltei! Posso ajudar em algo?",
                                        handoff_team=team)
        number = make_connection(name="Loja")
        number.default_assistant = shop
        number.save(update_fields=["default_assistant"])
        conversation = make_conversation(connection=number, contact=make_contact("Caio Prado"))
        bot_handoff(conversation)
        conversation.refresh_from_db()
        assert conversation.team_id is None
        with django_capture_on_commit_callbacks(execute=True):
            assert sweep(now=timezone.now() + timedelta(hours=25)) == 1
        assert ai_texts(conversation) == ["Voltei! Posso ajudar em algo?"]
    assert [m.to for m in mailoutbox] == [["ana@alpha.test"]]
    assert mailoutbox[0].subject == "[Alpha Frios] Pending conversation: Caio Prado"


def test_a_team_without_active_members_falls_back_to_the_assistants_team(tenant, team, mailoutbox,
                                                                        django_capture_on_commit_callbacks):
    from apps.accounts.models import Team
    from apps.agents.models import Assistant

    now = timezone.now()
    with schema_context("alpha"):
        Assistant.objects.create(name="Geral", handoff_team=team, is_default=True)
        empty = Team.objects.create(name="Noite")
        conversation = make_conversation(team=empty, bot_state="waiting_human", waiting_since=now - timedelta(hours=25),
                                         bot_resume_at=now - timedelta(minutes=5))
        with django_capture_on_commit_callbacks(execute=True):
            assert sweep() == 1
        assert ai_texts(conversation) == [expected_return_text()]
    assert [m.to for m in mailoutbox] == [["ana@alpha.test"]]


def test_without_assistant_nothing_is_promised_and_without_team_the_admins_are_emailed(
        tenant, owner, mailoutbox, django_capture_on_commit_callbacks):
    """No active assistant: nobody would answer, so no "I'm back" message; the customer still waits
    for a person, so the Admins hear about it, in the tenant's language."""
    from apps.agents.models import Assistant
    from apps.inbox.services.bot import bot_handoff

    with schema_context("alpha"):
        Assistant.objects.create(name="Desligado", is_active=False, is_default=True)
        conversation = make_conversation(contact=make_contact("Rita"))
        bot_handoff(conversation)
        with django_capture_on_commit_callbacks(execute=True):
            assert sweep(now=timezone.now() + timedelta(hours=25)) == 1
        conversation.refresh_from_db()
        assert conversation.bot_state == "ai_active" and ai_texts(conversation) == []
    assert [m.to for m in mailoutbox] == [[owner.email]]
    with translation.override(owner.language or "pt-br"):
        subject = translation.gettext("Pending conversation: %(contact)s") % {"contact": "Rita"}
    assert mailoutbox[0].subject == f"[Alpha Frios] {subject}"
    assert mailoutbox[0].extra_headers["Content-Language"] == (owner.language or "pt-br")


def test_a_human_reply_means_no_pending_email_but_still_the_return_message(
        waiting, owner, mailoutbox, django_capture_on_commit_callbacks):
    from apps.inbox.services.messages import message_send

    with schema_context("alpha"):
        message_send(waiting, sender_kind="human", text="Oi Maria, já vejo isso!", user=owner)
        waiting.refresh_from_db()
        assert waiting.bot_state == "human_active" and waiting.first_human_reply_at is not None
        with django_capture_on_commit_callbacks(execute=True):
            assert sweep(now=timezone.now() + timedelta(hours=25)) == 1
        waiting.refresh_from_db()
        assert waiting.bot_state == "ai_active"
        assert ai_texts(waiting) == [expected_return_text()]
    assert mailoutbox == []


@pytest.mark.parametrize("replied_hours_before_wait, emailed", [(None, True), (2, True), (-1, False)])
def test_pending_means_no_human_reply_since_the_hand_off(tenant, team, assistant, mailoutbox,
                                                         django_capture_on_commit_callbacks,
                                                         replied_hours_before_wait, emailed):
    """A reply in an earlier hand-off does not count: only one after waiting_since does."""
    now = timezone.now()
    waiting_since = now - timedelta(hours=30)
    replied = None if replied_hours_before_wait is None else waiting_since - timedelta(hours=replied_hours_before_wait)
    with schema_context("alpha"):
        conversation = make_conversation(team=team, bot_state="waiting_human", waiting_since=waiting_since,
                                         first_human_reply_at=replied, bot_resume_at=now - timedelta(hours=6))
        with django_capture_on_commit_callbacks(execute=True):
            assert sweep() == 1
        assert ai_texts(conversation) == [expected_return_text()]
    assert len(mailoutbox) == (1 if emailed else 0)


def test_a_human_message_pushes_the_due_time_24h_ahead(waiting, owner):
    from apps.inbox.services.messages import message_send

    with schema_context("alpha"):
        for text in ("Oi Maria!", "Já separo o seu pedido."):  # waiting -> human_active, then human_active
            waiting.bot_resume_at = timezone.now() + timedelta(hours=1)  # as if 23 h had passed
            waiting.save(update_fields=["bot_resume_at"])
            message_send(waiting, sender_kind="human", text=text, user=owner)
            waiting.refresh_from_db()
            assert waiting.bot_state == "human_active"
            assert abs(waiting.bot_resume_at - (timezone.now() + timedelta(hours=24))) < timedelta(minutes=1)
        assert sweep(now=timezone.now() + timedelta(hours=23)) == 0
        assert ai_texts(waiting) == []


def test_bot_return_hours_zero_never_returns(tenant, team):
    from apps.inbox.services.bot import bot_handoff
    from tenants.models import Tenant

    Tenant.objects.filter(pk=tenant.pk).update(bot_return_hours=0)
    with schema_context("alpha"):
        conversation = make_conversation()
        bot_handoff(conversation, team=team)
        conversation.refresh_from_db()
        assert conversation.bot_resume_at is None
        assert sweep(now=timezone.now() + timedelta(days=365)) == 0
        conversation.refresh_from_db()
        assert conversation.bot_state == "waiting_human" and ai_texts(conversation) == []


def test_a_paused_bot_resumed_on_schedule_sends_no_return_message(tenant, owner, mailoutbox,
                                                                  django_capture_on_commit_callbacks):
    from apps.inbox.services.bot import bot_pause, bot_schedule_resume

    with schema_context("alpha"):
        conversation = make_conversation()
        bot_pause(conversation, owner)
        bot_schedule_resume(conversation, timezone.now() + timedelta(minutes=5))
        with django_capture_on_commit_callbacks(execute=True):
            assert sweep(now=timezone.now() + timedelta(minutes=6)) == 1
        conversation.refresh_from_db()
        assert conversation.bot_state == "ai_active"
        assert ai_texts(conversation) == []
    assert mailoutbox == []


def test_a_failing_send_is_recorded_and_never_breaks_the_sweep(tenant, team, assistant, mailoutbox,
                                                               django_capture_on_commit_callbacks):
    """Cloud API: the customer's last message is 30 h old, so the free-form window is closed."""
    from apps.inbox.models import Message
    from apps.whatsapp.services.connections import connection_create

    now = timezone.now()
    with schema_context("alpha"):
        cloud = connection_create(name="Oficial", provider="cloud_api", instance_name="1234567890",
                                  status="connected")
        closed = make_conversation(connection=cloud, contact=make_contact("Bia"), team=team, bot_state="waiting_human",
                                   waiting_since=now - timedelta(hours=30), last_inbound_at=now - timedelta(hours=30),
                                   bot_resume_at=now - timedelta(minutes=1))
        fine = make_conversation(contact=make_contact("Léo"), team=team, bot_state="human_active",
                                 waiting_since=now - timedelta(hours=30),
                                 first_human_reply_at=now - timedelta(hours=29),
                                 bot_resume_at=now - timedelta(minutes=1))
        with django_capture_on_commit_callbacks(execute=True):
            assert sweep() == 2
        closed.refresh_from_db()
        fine.refresh_from_db()
        assert closed.bot_state == fine.bot_state == "ai_active"
        assert ai_texts(closed) == [] and ai_texts(fine) == [expected_return_text()]
        failed = [p for p in events_of(closed) if p.get("event") == "bot_return_message_failed"]
        assert len(failed) == 1
        with translation.override("pt-br"):  # written in the tenant's language
            assert failed[0]["reason"] == translation.gettext(
                "The 24-hour window is closed: send an approved template.")
        assert Message.objects.filter(conversation=closed, direction="out").exclude(type="event").count() == 0
    # the customer nobody answered is still reported to the team
    assert [m.subject for m in mailoutbox] == ["[Alpha Frios] Pending conversation: Bia"]


def test_sweeping_alpha_never_touches_beta(tenant, other_tenant, mailoutbox, django_capture_on_commit_callbacks):
    from apps.agents.models import Assistant

    now = timezone.now()
    with schema_context("beta"):
        Assistant.objects.create(name="Beta", is_default=True)
        theirs = make_conversation(bot_state="waiting_human", waiting_since=now - timedelta(hours=30),
                                   bot_resume_at=now - timedelta(hours=1))
    with schema_context("alpha"):
        with django_capture_on_commit_callbacks(execute=True):
            assert sweep() == 0
    with schema_context("beta"):
        theirs.refresh_from_db()
        assert theirs.bot_state == "waiting_human" and ai_texts(theirs) == []
    assert mailoutbox == []


# --- two sweeps at once, on committed data ----------------------------------------------------


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        yield
        connection.set_schema_to_public()


@pytest.fixture
def due_conversations(committed):
    """Five customers handed off 25 h ago that nobody answered, on a number with an assistant
    (committed, so other connections see them), removed afterwards."""
    from apps.agents.models import Assistant
    from apps.crm.models import Contact
    from apps.whatsapp.services.connections import connection_delete_row

    now = timezone.now()
    with schema_context("alpha"):
        assistant = Assistant.objects.create(name=f"Race {uuid.uuid4().hex[:6]}")
        conn = make_connection(name=f"Race {uuid.uuid4().hex[:6]}")
        conn.default_assistant = assistant
        conn.save(update_fields=["default_assistant"])
        conversations = [
            make_conversation(connection=conn, contact=make_contact(f"Cliente {i}"), bot_state="waiting_human",
                              waiting_since=now - timedelta(hours=25), bot_resume_at=now - timedelta(hours=1))
            for i in range(5)]
    try:
        yield conversations
    finally:
        with schema_context("alpha"):
            contacts = [c.contact_id for c in conversations]
            connection_delete_row(conn)
            Contact.objects.filter(pk__in=contacts).delete()
            assistant.delete()


def test_two_concurrent_sweeps_return_each_conversation_once(due_conversations, mailoutbox):
    """(No ``db`` fixture here: its transaction would hide the rows from the other connections.)"""
    from apps.accounts.models import User
    from apps.inbox.models import Message

    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            with schema_context("alpha"):
                barrier.wait(timeout=10)
                results.append(sweep())
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == [] and len(results) == 2
    assert sum(results) == 5  # each conversation resumed by exactly one of the two

    with schema_context("alpha"):
        admins = list(User.objects.filter(is_active=True, role="admin").order_by("pk"))
        for conversation in due_conversations:
            conversation.refresh_from_db()
            assert (conversation.bot_state, conversation.bot_resume_at) == ("ai_active", None)
            assert ai_texts(conversation) == [expected_return_text()]
            assert Message.objects.filter(conversation=conversation,
                                          payload__event="bot_resumed_auto").count() == 1
    # one email per customer to each admin (no team here), never two
    assert admins
    for admin in admins:
        subjects = sorted(m.subject for m in mailoutbox if m.to == [admin.email])
        with translation.override(admin.language or "pt-br"):
            expected = sorted("[Alpha Frios] " + translation.gettext("Pending conversation: %(contact)s")
                              % {"contact": f"Cliente {i}"} for i in range(5))
        assert subjects == expected
    assert len(mailoutbox) == 5 * len(admins)
