"""Bot state: pause / resume by staff, hand-off, a human reply quiets the bot, a timed return is
applied by the sweep (never a countdown). Each change leaves a system line in the chat that is
never sent to the customer, and reaches the tenant's inbox group only."""
from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.inbox.tests.test_outbound import conversation, deliver, send  # noqa: F401
from apps.inbox.tests.test_pipeline import alpha, handler, hook_post, msg, process_all, run_due_turns, sandbox  # noqa: F401


@pytest.fixture(autouse=True)
def _english():
    """Stored lines and provider errors are written in the active language (pt-BR by default);
    these tests read them in English."""
    from django.utils import translation

    with translation.override("en"):
        yield


def lines(conversation):
    from apps.inbox.models import Message

    with schema_context("alpha"):
        return list(Message.objects.filter(conversation=conversation, type="event").order_by("id")
                    .values_list("text", "sender_kind", "direction", "status"))


def test_pause_and_resume_by_staff(conversation, sandbox, owner, handler):
    from apps.inbox.services.bot import bot_pause, bot_resume

    owner_name = owner.name or owner.email
    with schema_context("alpha"):
        bot_pause(conversation, owner)
        assert conversation.bot_state == "paused"
        bot_pause(conversation, owner)  # already paused: no second line
    run_due_turns()
    assert handler.turns == []  # the customer's message got no bot answer
    with schema_context("alpha"):
        bot_resume(conversation, owner)
        conversation.refresh_from_db()
        assert conversation.bot_state == "ai_active"
    assert lines(conversation) == [
        (f"Bot paused by {owner_name}", "system", "out", "sent"),
        (f"Bot resumed by {owner_name}", "system", "out", "sent"),
    ]
    hook_post(sandbox, [msg("in2", "e aí?")])
    process_all()
    run_due_turns()
    assert handler.turns == [["e aí?"]]


def test_system_lines_are_never_sent(conversation, owner):
    from apps.inbox.models import Message
    from apps.inbox.services.bot import bot_pause
    from apps.inbox.services.messages import message_deliver
    from apps.inbox.services.sweeps import stuck_outbound

    with schema_context("alpha"):
        bot_pause(conversation, owner)
        line = Message.objects.get(type="event")
        Message.objects.filter(pk=line.pk).update(created_at=timezone.now() - timedelta(hours=1))
        assert message_deliver(line.pk) == "done"
        assert line.pk not in stuck_outbound()
        line.refresh_from_db()
        assert line.provider_message_id == "" and line.send_attempts == 0


def test_handoff_waits_for_a_human_and_a_human_reply_takes_over(conversation, owner, handler):
    from apps.accounts.models import Team
    from apps.inbox.services.bot import bot_handoff

    with schema_context("alpha"):
        team = Team.objects.create(name="Vendas")
        bot_handoff(conversation, "customer asked for a person", team=team)
        conversation.refresh_from_db()
        assert (conversation.bot_state, conversation.team) == ("waiting_human", team)
        assert conversation.waiting_since is not None
    assert lines(conversation)[-1][0] == "Handed off to Vendas: customer asked for a person"
    run_due_turns()
    assert handler.turns == []
    send(conversation, sender_kind="human", user=owner, text="Olá, sou a Ana da loja")
    with schema_context("alpha"):
        conversation.refresh_from_db()
    assert conversation.bot_state == "human_active" and conversation.first_human_reply_at >= conversation.waiting_since


def test_timed_return_is_applied_by_the_sweep(conversation, owner):
    from apps.inbox.services.bot import bot_pause, bot_schedule_resume
    from apps.inbox.services.sweeps import sweep_bot_resume

    with schema_context("alpha"):
        bot_pause(conversation, owner)
        bot_schedule_resume(conversation, timezone.now() + timedelta(minutes=30))
        assert sweep_bot_resume() == 0
        conversation.refresh_from_db()
        assert conversation.bot_state == "paused"
        conversation.bot_resume_at = timezone.now() - timedelta(seconds=1)
        conversation.save(update_fields=["bot_resume_at"])
        assert sweep_bot_resume() == 1
        assert sweep_bot_resume() == 0  # idempotent
        conversation.refresh_from_db()
    assert (conversation.bot_state, conversation.bot_resume_at) == ("ai_active", None)
    assert lines(conversation)[-1][0] == "The bot is back"


def test_bot_events_reach_only_the_tenants_inbox_group(conversation, owner):
    """Publishing happens on commit; we call the group send directly by committing via on_commit capture."""
    from apps.inbox.events import inbox_group
    from apps.inbox.services.bot import bot_pause

    layer = get_channel_layer()
    alpha_channel = async_to_sync(layer.new_channel)()
    beta_channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(inbox_group("alpha"), alpha_channel)
    async_to_sync(layer.group_add)(inbox_group("beta"), beta_channel)
    try:
        from django.test import TestCase

        with TestCase.captureOnCommitCallbacks(execute=True):
            with schema_context("alpha"):
                bot_pause(conversation, owner)
        received = []
        while True:
            try:
                received.append(async_to_sync(_receive)(layer, alpha_channel))
            except TimeoutError:
                break
        events = [r["event"] for r in received]
        assert "conversation.updated" in events and "message.created" in events
        with pytest.raises(TimeoutError):
            async_to_sync(_receive)(layer, beta_channel)
    finally:
        async_to_sync(layer.group_discard)(inbox_group("alpha"), alpha_channel)
        async_to_sync(layer.group_discard)(inbox_group("beta"), beta_channel)


async def _receive(layer, channel):
    import asyncio

    return await asyncio.wait_for(layer.receive(channel), timeout=0.5)
