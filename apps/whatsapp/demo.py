"""Demo data of the whatsapp app (``manage.py seed_demo``): the demo tenant gets a Sandbox number
"Simulador" and two customer conversations, created through the real message path (sandbox
payload -> stored InboundEvent -> processed by the pipeline), so the inbox has something to show.
Running it again changes nothing: the connection is found by name and the messages carry fixed ids
(deduplicated like any provider retry)."""
from __future__ import annotations

import logging
import time

from .models import Connection, InboundEvent, Provider

log = logging.getLogger(__name__)

SANDBOX_NAME = "Simulador"

# (message id, customer name, phone, text, minutes ago)
DEMO_MESSAGES = [
    ("demo-maria-1", "Maria Souza", "+5511987650001", "Oi! Vocês entregam no bairro Jardins?", 95),
    ("demo-maria-2", "Maria Souza", "+5511987650001", "Queria 500 g de presunto e 300 g de queijo prato.", 94),
    ("demo-joao-1", "João Lima", "+5521998760002", "Boa tarde, qual o horário de funcionamento no sábado?", 30),
]
DEMO_REPLIES = {
    "+5511987650001": "Olá, Maria! Entregamos sim. Já separo o seu pedido.",
}


def seed_demo_sandbox(tenant) -> Connection:
    """Called inside the demo tenant's schema by the seed_demo command."""
    from .services.connections import connection_create

    conn = Connection.objects.filter(provider=Provider.SANDBOX, name=SANDBOX_NAME).first()
    if conn is None:
        conn = connection_create(name=SANDBOX_NAME, provider=Provider.SANDBOX)
    _seed_conversations(conn)
    return conn


def _seed_conversations(conn: Connection) -> None:
    try:
        from apps.inbox.services.messages import inbound_apply  # noqa: F401 - the pipeline is there
        from .services.ingest import process_event
    except ImportError:
        log.info("inbox pipeline not installed: demo conversations skipped")
        return
    from .services.simulator import simulator_send

    now = time.time()
    for message_id, name, phone, text, minutes_ago in DEMO_MESSAGES:
        simulator_send(conn, name=name, phone=phone, text=text, message_id=message_id,
                       timestamp=now - minutes_ago * 60)
    # process them here (no worker needed for the demo); already processed ones are left alone
    pending = InboundEvent.objects.filter(connection=conn, processed_at__isnull=True,
                                          dedup_key__startswith=f"sandbox:{conn.pk}:demo-")
    for event_id in pending.order_by("id").values_list("id", flat=True):
        process_event(event_id)
    _seed_replies(conn)


def _seed_replies(conn: Connection) -> None:
    from apps.accounts.models import User
    from apps.inbox.models import Direction
    from apps.inbox.services.messages import message_deliver, message_send

    from .services.simulator import current_conversation

    staff = User.objects.filter(is_active=True, role="agent").order_by("pk").first() or \
        User.objects.filter(is_active=True).order_by("pk").first()
    for phone, text in DEMO_REPLIES.items():
        conversation = current_conversation(conn, phone)
        if conversation is None or conversation.messages.filter(direction=Direction.OUT).exists():
            continue
        message = message_send(conversation, sender_kind="human", text=text, user=staff)
        try:
            message_deliver(message.pk)  # the sandbox "sends" at once
        except Exception:  # noqa: BLE001 - the sweeper delivers it later
            log.info("demo reply %s left queued", message.pk, exc_info=True)
