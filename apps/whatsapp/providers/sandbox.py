"""The built-in sandbox channel: staff play the customer in a simulator page and talk to their own
bot. Inbound goes through exactly the same durable pipeline (stored events, worker, turn hook);
outbound "sends" succeed at once and the simulator reads the replies from the database.

Webhook body (our own shape), authenticated by the ``x-webhook-secret`` header::

    {"messages": [{"id": "m1", "from": "+5511987654321", "name": "Ana", "text": "oi",
                   "timestamp": 1700000000, "type": "text", "from_me": false}]}
"""
from __future__ import annotations

import hmac
import time
import uuid

from .base import (ConnectionUpdate, ContactRef, InboundMessage, OutboundMessage, SendResult, WebhookItem,
                   WebhookRejected, WhatsAppProvider, register_provider)

_TYPES = {"text", "image", "audio", "video", "document", "location", "interactive", "reaction", "sticker"}


class SandboxProvider(WhatsAppProvider):
    name = "sandbox"
    supports_interactive = True
    has_service_window = False

    def authenticate(self, connection, *, headers: dict[str, str], body: bytes, query: dict[str, str]) -> None:
        given = headers.get("x-webhook-secret", "")
        if not given or not hmac.compare_digest(given.encode(), (connection.webhook_secret or "").encode()):
            raise WebhookRejected(401, "missing or wrong x-webhook-secret header")

    def parse_webhook(self, connection, payload: dict) -> list[WebhookItem]:
        from apps.crm.phones import normalize_phone

        messages = payload.get("messages") if isinstance(payload, dict) else None
        if not isinstance(messages, list) or not messages:
            raise WebhookRejected(400, 'expected {"messages": [...]}')
        items = []
        for index, raw in enumerate(messages):
            if not isinstance(raw, dict):
                raise WebhookRejected(400, f"messages[{index}] must be an object")
            message_id = str(raw.get("id") or "").strip()
            phone = normalize_phone(str(raw.get("from") or ""))
            if not message_id or len(message_id) > 150:
                raise WebhookRejected(400, f"messages[{index}].id is required (150 characters at most)")
            if not phone:
                raise WebhookRejected(400, f"messages[{index}].from must be a phone number")
            kind = str(raw.get("type") or "text")
            if kind not in _TYPES:
                raise WebhookRejected(400, f"messages[{index}].type {kind!r} is not supported")
            text = raw.get("text") or ""
            if not isinstance(text, str):
                raise WebhookRejected(400, f"messages[{index}].text must be a string")
            try:
                timestamp = float(raw.get("timestamp") or time.time())
            except (TypeError, ValueError):
                raise WebhookRejected(400, f"messages[{index}].timestamp must be unix seconds") from None
            payload_data = raw.get("payload") if isinstance(raw.get("payload"), dict) else {}
            inbound = InboundMessage(
                provider_message_id=f"sandbox:{connection.pk}:{message_id}",
                contact=ContactRef(phone=phone, name=str(raw.get("name") or "")[:120]),
                timestamp=timestamp, type=kind, text=text, from_me=bool(raw.get("from_me")),
                payload=payload_data)
            items.append(WebhookItem(kind="message", dedup_key=inbound.provider_message_id, data=inbound.to_dict()))
        return items

    def send(self, connection, message: OutboundMessage) -> SendResult:
        return SendResult(provider_message_id=f"sandbox-{uuid.uuid4().hex}", status="sent")

    def state(self, connection) -> ConnectionUpdate:
        return ConnectionUpdate(status="connected")

    def connect(self, connection):
        return None

    def test_credentials(self, connection) -> str:
        return "sandbox"


register_provider(SandboxProvider())
