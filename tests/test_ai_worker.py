"""The AI turn end to end in real Celery worker processes: sandbox webhooks in, the debounced turn
runs the assistant in the worker (its own database connection, the real ``openai`` SDK calling the
fake OpenAI server of this process over 127.0.0.1), and the reply goes out through the outbox.

Three quick messages -> one turn -> one model call carrying all three in order -> one reply, sent,
carrying its decision's id; the decision and the day's usage are in the tenant's schema.
Committed data (outside the test transaction, the worker must see it) is removed at the end, so
the other worker tests still find alpha without an assistant."""
from __future__ import annotations

import uuid

import pytest
from django_tenants.utils import schema_context

from conftest import start_process
from tests.fakes.openai_server import FakeOpenAI, reply
from tests.test_message_path_worker import DEBOUNCE, Worker, broker, committed, post, wait_for  # noqa: F401


class AIWorker(Worker):
    """A worker whose only turn handler is the registered AI assistant."""

    def start(self) -> None:
        import threading

        self.proc = start_process(
            ["-m", "celery", "-A", "saas", "worker", "--pool", "prefork", "--concurrency", "2",
             "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
            CELERY_BROKER_URL=self.broker_url, MESSAGE_DEBOUNCE_SECONDS=str(DEBOUNCE),
            MESSAGE_SWEEP_AFTER_SECONDS="1", INBOX_SEND_RETRY_DELAY_SECONDS="0.2", AI_RETRY_BACKOFF_SECONDS="0.05")
        proc = self.proc
        threading.Thread(target=lambda: self.output.extend(iter(proc.stdout.readline, b"")), daemon=True).start()


@pytest.fixture(scope="module")
def ai_worker(broker):  # noqa: F811
    worker = AIWorker(broker.url)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def fake_model():
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def shop(committed, ai_worker, fake_model):  # noqa: F811
    """Alpha with a sandbox number, a default provider on the fake model and an assistant."""
    from apps.agents.models import Assistant, ModelProvider, UsageDaily
    from apps.crm.models import Contact
    from apps.whatsapp.services.connections import connection_create, connection_delete_row
    from tests.fakes.openai_server import API_KEY

    with schema_context("alpha"):
        conn = connection_create(name=f"Sandbox {uuid.uuid4().hex[:6]}", provider="sandbox")
        provider = ModelProvider.objects.create(name="Fake", base_url=fake_model.base_url, api_key=API_KEY,
                                                is_default=True, timeout_seconds=5)
        assistant = Assistant.objects.create(name="Ana", is_default=True, enabled_tools=["business_hours"],
                                             business_hours={}, typing_presence=True)
        usage_before = list(UsageDaily.objects.values_list("pk", flat=True))
    try:
        yield conn
    finally:
        with schema_context("alpha"):
            contacts = list(Contact.objects.filter(conversations__connection=conn).values_list("pk", flat=True))
            connection_delete_row(conn)  # cascades conversations, messages, turns, decisions
            Contact.objects.filter(pk__in=contacts).delete()
            assistant.delete()
            provider.delete()
            UsageDaily.objects.exclude(pk__in=usage_before).delete()


def test_a_burst_of_messages_is_one_ai_turn_in_the_worker_with_one_model_call(shop, fake_model):
    from apps.agents.models import Decision, UsageDaily
    from apps.inbox.models import Message

    fake_model.script(reply("Abrimos às 8h e entregamos na zona sul!", prompt_tokens=321, completion_tokens=12))
    phone = "+5511987650042"
    texts = ["Oi", "que horas vocês abrem?", "e entregam na zona sul?"]
    for i, text in enumerate(texts):
        assert post(shop, [{"id": f"ai-{uuid.uuid4().hex[:8]}-{i}", "from": phone, "text": text}]).status_code == 200

    def replies():
        with schema_context("alpha"):
            return list(Message.objects.filter(conversation__connection=shop, sender_kind="ai")
                        .values_list("text", "status", "payload"))

    wait_for(lambda: any(status == "sent" for _, status, _ in replies()), message="the AI reply, sent")
    [(text, status, payload)] = replies()
    assert (text, status) == ("Abrimos às 8h e entregamos na zona sul!", "sent")

    requests = fake_model.chat_requests()
    assert len(requests) == 1
    assert [m["content"] for m in requests[0]["messages"][-3:]] == texts
    with schema_context("alpha"):
        decision = Decision.objects.get(conversation__connection=shop)
        assert payload == {"decision_id": decision.pk}
        assert (decision.action, decision.mode, decision.prompt_tokens) == ("answered", "generative", 321)
        assert decision.input_text.splitlines() == texts
        assert sum(UsageDaily.objects.values_list("turns", flat=True)) >= 1
