"""The interface every WhatsApp provider implements (Evolution API, Cloud API, sandbox).

Inbound: the webhook view authenticates the request (``authenticate``), then ``parse_webhook``
turns the body into a list of ``WebhookItem``; each is stored as one ``InboundEvent`` row
(deduplicated by ``dedup_key``) before the webhook is answered. The worker later rebuilds the
normalized object from ``item.data`` (``InboundMessage.from_dict`` ...) and applies it.

Outbound: ``send`` delivers one ``OutboundMessage`` and returns the provider's message id.
It raises ``TemporaryProviderError`` for what is worth retrying (5xx, timeouts, connection
refused) and ``PermanentProviderError`` (with a reason staff can read) for what is not.

Everything crossing this boundary is plain data (dataclasses of str/int/dict), so the fake
servers in tests and the real providers meet at the HTTP wire, never inside our code.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


class ProviderError(Exception):
    """Base of provider failures; ``str(exc)`` is shown to staff (keep it readable)."""


class TemporaryProviderError(ProviderError):
    """Worth retrying: 5xx, 429, timeouts, connection errors."""


class PermanentProviderError(ProviderError):
    """Not worth retrying: 4xx with a reason (invalid number, closed window, bad credentials)."""


class WebhookRejected(Exception):
    """The webhook cannot be accepted. ``status`` is the HTTP status to answer (400, 401, 404)
    and ``reason`` a short text for the response body. Nothing is stored."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class ContactRef:
    """Who the customer is, with every identifier the provider gave. ``phone`` is E.164 when known
    (canonicalised later by apps.crm.phones), ``wa_jid`` like "5511987654321@s.whatsapp.net",
    ``lid`` like "123456789@lid", ``bsuid`` the Cloud API's business-scoped user id."""

    phone: str = ""
    wa_jid: str = ""
    lid: str = ""
    bsuid: str = ""
    name: str = ""  # push name / profile name


@dataclass
class InboundMessage:
    provider_message_id: str
    contact: ContactRef
    timestamp: float  # unix seconds
    type: str = "text"  # apps.inbox.models.MessageType values
    text: str = ""  # body, caption, or the chosen option's title for button/list replies
    from_me: bool = False  # sent from the business number (echo of ours or typed on the phone)
    # Media: how the worker fetches it (provider specific: {"media_id": ...} for Cloud API,
    # {"message": {...}} for Evolution, {"base64": ...} when inline), plus what we know of it.
    media: dict[str, Any] = field(default_factory=dict)  # keys: mime, filename, size, + fetch hints
    payload: dict[str, Any] = field(default_factory=dict)  # location / reply_id / reaction target
    raw: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "InboundMessage":
        data = dict(data)
        data["contact"] = ContactRef(**data.get("contact", {}))
        return cls(**data)


@dataclass
class StatusUpdate:
    provider_message_id: str
    status: str  # sent | delivered | read | failed
    timestamp: float
    error: str = ""
    recipient: str = ""
    # Our OutboundMessage.uid when the provider echoes it (Cloud API biz_opaque_callback_data): it
    # ties a status to our row even when the send's answer never reached us.
    callback_data: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "StatusUpdate":
        return cls(**data)


@dataclass
class ConnectionUpdate:
    """A change of the number's state. ``status`` uses apps.whatsapp.models.ConnectionStatus values;
    ``error`` says what happened and what to do (e.g. QR limit reached: generate a new code);
    ``reconnect`` False when the provider will not reconnect by itself (logged out, banned, refused)."""

    status: str
    phone: str = ""
    error: str = ""
    reconnect: bool = True
    qr_code: str = ""  # set for qrcode events: data URI (image) or the raw code

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ConnectionUpdate":
        return cls(**data)


@dataclass
class WebhookItem:
    kind: str  # InboundEvent.Kind: message | status | connection | qrcode
    dedup_key: str
    data: dict  # the to_dict() of the normalized object


@dataclass
class OutboundMessage:
    """What to send. ``to`` is the recipient as the provider wants it (the conversation's contact
    resolved by the caller: E.164 phone, JID or Cloud API id). ``uid`` is our idempotency key."""

    uid: str
    to: str
    type: str = "text"  # text | image | audio | video | document | interactive | template
    text: str = ""  # body or caption
    media_url: str = ""  # absolute URL the provider can fetch, or
    media_base64: str = ""  # inline content when no public URL exists
    media_mime: str = ""
    media_filename: str = ""
    # interactive: {"body": str, "buttons": [{"id", "title"}] (<=3)} or
    #              {"body": str, "button": str, "sections": [{"title", "rows": [{"id","title","description"}]}]}
    # template:    {"name": str, "language": str, "variables": [str, ...]}
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class SendResult:
    provider_message_id: str
    status: str = "sent"


@dataclass
class QrCode:
    """What the connect call returned: an image data URI and/or the pairing code."""

    data_uri: str = ""
    code: str = ""
    pairing_code: str = ""


class WhatsAppProvider:
    """Base class; see the module docstring. ``connection`` is an apps.whatsapp.models.Connection."""

    name: str = ""
    supports_interactive: bool = False  # real buttons/lists (Cloud API); else numbered text menus
    has_service_window: bool = False  # Cloud API's 24-hour customer-service window

    # --- inbound -------------------------------------------------------------------------
    def authenticate(self, connection, *, headers: dict[str, str], body: bytes, query: dict[str, str]) -> None:
        """Raise WebhookRejected(401, ...) unless the request really comes from the provider.
        Called before the body is parsed. ``headers`` keys are lower-case."""
        raise NotImplementedError

    def handshake(self, connection, query: dict[str, str]) -> str:
        """Answer a GET subscription check (Cloud API: hub.challenge when hub.verify_token
        matches). Raise WebhookRejected(403, ...) otherwise; providers without one answer 405."""
        raise WebhookRejected(405, "GET is not supported for this provider")

    def parse_webhook(self, connection, payload: dict) -> list[WebhookItem]:
        """Normalize a parsed JSON body. Raise WebhookRejected(400, reason) on an unknown shape.
        Items to ignore (groups, broadcasts, unsupported events) are simply left out."""
        raise NotImplementedError

    def fetch_media(self, connection, message: InboundMessage) -> tuple[bytes, str, str] | None:
        """Download an inbound message's media: (content, mime type, filename), or None."""
        return None

    # --- outbound ------------------------------------------------------------------------
    def send(self, connection, message: OutboundMessage) -> SendResult:
        raise NotImplementedError

    def find_sent(self, connection, message: OutboundMessage, since: float) -> str | None:
        """Reconcile an unknown outcome (worker died mid-send): the provider id of ``message``
        if the provider already has it, else None (then it is safe to send again)."""
        return None

    def send_presence(self, connection, to: str, presence: str = "composing", delay_ms: int = 1200) -> None:
        return None

    # --- lifecycle -----------------------------------------------------------------------
    def create(self, connection, *, webhook_url: str) -> QrCode | None:
        """Create the number on the provider side (Evolution: the instance, with our webhook)."""
        return None

    def connect(self, connection) -> QrCode | None:
        """Start (or restart) pairing: a fresh QR code for QR providers."""
        return None

    def state(self, connection) -> ConnectionUpdate:
        raise NotImplementedError

    def restart(self, connection) -> None:
        return None

    def logout(self, connection) -> None:
        return None

    def delete(self, connection) -> None:
        return None

    def test_credentials(self, connection) -> str:
        """Check the credentials with a real call; return a short description (e.g. the verified
        phone number) or raise ProviderError with the provider's message."""
        raise NotImplementedError

    def sync_templates(self, connection) -> list[dict]:
        """Cloud API: [{name, language, category, status, components}] from the account."""
        return []


_PROVIDERS: dict[str, WhatsAppProvider] = {}


def register_provider(provider: WhatsAppProvider) -> None:
    _PROVIDERS[provider.name] = provider


def get_provider(name: str) -> WhatsAppProvider:
    if name not in _PROVIDERS:
        from . import cloud_api, evolution, sandbox  # noqa: F401 - each registers itself
    try:
        return _PROVIDERS[name]
    except KeyError:
        raise LookupError(f"unknown WhatsApp provider {name!r}") from None
