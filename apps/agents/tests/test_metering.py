"""Usage metering: each turn that ran adds one AI turn, its tokens, its cost and its hand-off to the
tenant's day; the day adds up to the sum over the decisions. The plan's monthly AI turns: once used
up, conversations go straight to the team and the admins are told once a month."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import translation

from apps.inbox.tests.helpers_inbox import make_contact, make_conversation
from tests.fakes.openai_server import error, reply, tool_call

from .conftest import ai_texts, customer_turn, last_decision, make_assistant, make_provider


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def new_conversation(name="Maria"):
    return make_conversation(contact=make_contact(name))


def test_the_days_usage_is_the_sum_of_its_decisions(alpha, fake_llm):
    from apps.agents.models import Decision, UsageDaily
    from apps.agents.pipeline import AssistantTurnHandler
    from apps.agents.services.usage import _today, cost_of
    from apps.inbox.models import Conversation, Message, Turn

    provider = make_provider(fake_llm)
    make_assistant(enabled_tools=["business_hours"])
    fake_llm.script(
        reply("Abrimos às 8h.", prompt_tokens=1200, completion_tokens=30),                 # answered
        tool_call("business_hours", {}, prompt_tokens=800, completion_tokens=12),          # tool, 2 calls
        reply("Agora estamos abertos.", prompt_tokens=900, completion_tokens=25),
        error(500), error(500),                                                            # error + hand-off
    )
    customer_turn(new_conversation("A"), "Que horas abre?")
    customer_turn(new_conversation("B"), "Estão abertos agora?")
    customer_turn(new_conversation("C"), "Vocês entregam?")
    # retrieval-only from here on (the key removed): no tokens, a hand-off (nothing in the knowledge base)
    provider.api_key = ""
    provider.save()
    customer_turn(new_conversation("D"), "Vocês vendem bicicletas elétricas?")
    # a skipped turn is not metered
    paused = new_conversation("E")
    Conversation.objects.filter(pk=paused.pk).update(bot_state="paused")
    message = Message.objects.create(conversation=paused, direction="in", sender_kind="contact", text="oi",
                                     status="received")
    AssistantTurnHandler().handle(Turn.objects.create(conversation=paused, detail={"message_ids": [message.pk]}))

    decisions = Decision.objects.all()
    assert sorted(decisions.values_list("action", flat=True)) == [
        "answered", "error", "handed_off", "skipped", "tool"]
    usage = UsageDaily.objects.get(date=_today())
    sums = decisions.aggregate(p=Sum("prompt_tokens"), c=Sum("completion_tokens"), cost=Sum("cost"))
    assert usage.turns == decisions.exclude(action="skipped").count() == 4
    assert (usage.prompt_tokens, usage.completion_tokens) == (sums["p"], sums["c"]) == (2900, 67)
    assert usage.cost == sums["cost"] == cost_of(provider, 1200, 30) + cost_of(provider, 1700, 37)
    assert usage.cost == Decimal("0.198000") + Decimal("0.277200")  # (tokens x price per 1k) / 1000
    assert usage.handoffs == decisions.filter(action__in=["handed_off", "error"]).count() == 2
    tool_turn = decisions.get(action="tool")
    assert (tool_turn.prompt_tokens, tool_turn.completion_tokens) == (1700, 37)
    assert tool_turn.model == "gpt-4o-mini" and tool_turn.latency_ms >= 0


@pytest.fixture
def small_plan(alpha):
    from apps.billing.models import Plan
    from tenants.models import Tenant

    plan = Plan.objects.create(name="Mini", slug="mini", ai_turns_per_month=3)
    Tenant.objects.filter(pk=alpha.pk).update(plan=plan, ai_quota_notified_month="")
    return plan


def test_the_last_turn_of_the_quota_still_runs(alpha, small_plan, fake_llm):
    from apps.agents.services.usage import usage_record

    make_provider(fake_llm)
    make_assistant(enabled_tools=["business_hours"])
    usage_record(turns=2)
    conversation = new_conversation()
    customer_turn(conversation, "Que horas abre?")
    assert ai_texts(conversation) == ["Certo!"]
    assert len(fake_llm.chat_requests()) == 1


def test_quota_exhausted_hands_off_and_tells_the_admins_once_a_month(alpha, owner, small_plan, fake_llm):
    from apps.agents.models import UsageDaily
    from apps.agents.services.usage import _today, usage_record
    from apps.notifications.models import Notification
    from tenants.models import Tenant

    make_provider(fake_llm)
    make_assistant(enabled_tools=["business_hours"])
    usage_record(turns=3)
    first, second = new_conversation("Maria"), new_conversation("João")
    customer_turn(first, "Que horas abre?")
    customer_turn(second, "Vocês entregam?")

    assert fake_llm.chat_requests() == []  # no model call over the quota
    for conversation in (first, second):
        conversation.refresh_from_db()
        assert conversation.bot_state == "waiting_human"
        assert ai_texts(conversation) == ["FALLBACK"]
        decision = last_decision(conversation)
        assert (decision.action, decision.reason) == ("handed_off", "quota_exhausted")
    notices = Notification.objects.filter(kind="ai_quota")
    assert [n.recipient_id for n in notices] == [owner.pk]
    assert Tenant.objects.get(pk=alpha.pk).ai_quota_notified_month == _today().strftime("%Y-%m")
    usage = UsageDaily.objects.get(date=_today())
    assert (usage.turns, usage.handoffs) == (3, 2)  # over-quota hand-offs are not AI turns


def test_each_tenant_meters_its_own_turns(tenant, other_tenant, fake_llm):
    from django_tenants.utils import schema_context

    from apps.agents.models import Decision, UsageDaily

    with schema_context(other_tenant.schema_name):
        make_provider(fake_llm)
        make_assistant(enabled_tools=["business_hours"])
        customer_turn(new_conversation(), "Que horas abre?")
        assert UsageDaily.objects.get().turns == 1
    with schema_context(tenant.schema_name):
        assert not UsageDaily.objects.exists() and not Decision.objects.exists()
