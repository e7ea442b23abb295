"""Evolution API v2 (Baileys, QR code pairing): the unofficial WhatsApp provider.

Wire protocol (checked against the Evolution API v2 sources and docs):

- Every call carries the ``apikey`` header: the instance token when we have one
  (``connection.get_credentials()["token"]``), else the server's global key
  (``settings.EVOLUTION_API_KEY``). ``POST /instance/create`` always uses the global key.
- Base URL: ``connection.config["base_url"]`` or ``settings.EVOLUTION_API_URL``.
- Errors come back as ``{"status": 400, "error": "Bad Request", "response": {"message": [...]}}``;
  5xx, 429, timeouts and refused connections raise ``TemporaryProviderError`` (worth retrying),
  other 4xx ``PermanentProviderError`` with the provider's reason, readable.

Creating an instance (``create``): Evolution answers with the instance token (``hash``) and its id.
``create`` writes them onto the ``connection`` object it was given, in memory only:
``connection.set_credentials({... "token": <hash>})`` and ``connection.external_id = <instanceId>``.
The caller saves them (``conn.save(update_fields=["credentials", "external_id"])``).
``EvolutionProvider.instance_token_from_create(response)`` reads the token from a raw create
response for callers that talk to the API themselves. If the instance already exists (a retry after
a crash) ``create`` re-applies our webhook settings and asks for a fresh QR code instead.

Webhooks: Evolution does not sign bodies. The view has already matched the connection by the key in
the URL; ``authenticate`` then compares the ``x-webhook-secret`` header, which we configure as a
per-instance custom webhook header, with ``connection.webhook_secret`` in constant time.
Media arrives without its bytes by default (``webhook.base64`` off): inline base64 would push an
ordinary photo past the webhook body cap (413) and Evolution would give up on it after its retries.
``fetch_media`` downloads it later through ``/chat/getBase64FromMediaMessage``. Set
``connection.config["webhook_base64"] = True`` to have it inline anyway (then it is used directly).

Exactly-once sending: Evolution has no idempotency key. When a send times out (the message may have
gone), ``send`` first looks for it with ``find_sent`` (``POST /chat/findMessages`` filtered on
``key.fromMe`` and a ``messageTimestamp`` window, matched on chat and text, the chat compared with
and without the Brazilian 9th digit) and returns its id when found.

Connection events: after close codes 401 (logged out), 403 (forbidden/banned), 402 and 406 Evolution
does not reconnect (its ``codesToNotReconnect``); the ConnectionUpdate says so (``reconnect`` False)
with what to do. ``refused`` means the QR code limit was reached.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import mimetypes
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone as dt_timezone
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from .base import (
    ConnectionUpdate,
    ContactRef,
    InboundMessage,
    OutboundMessage,
    PermanentProviderError,
    QrCode,
    SendResult,
    StatusUpdate,
    TemporaryProviderError,
    WebhookItem,
    WebhookRejected,
    WhatsAppProvider,
    register_provider,
)

log = logging.getLogger(__name__)

SECRET_HEADER = "x-webhook-secret"
WEBHOOK_EVENTS = ["MESSAGES_UPSERT", "MESSAGES_UPDATE", "SEND_MESSAGE", "CONNECTION_UPDATE", "QRCODE_UPDATED"]

# Every event name Evolution API v2 can post. Known events we do not use are accepted and ignored;
# anything else is an unknown shape (400).
KNOWN_EVENTS = {
    "application.startup", "qrcode.updated", "messages.set", "messages.upsert", "messages.edited",
    "messages.update", "messages.delete", "send.message", "send.message.update", "contacts.set",
    "contacts.upsert", "contacts.update", "presence.update", "chats.set", "chats.upsert", "chats.update",
    "chats.delete", "groups.upsert", "group.update", "groups.update", "group.participants.update",
    "connection.update", "labels.edit", "labels.association", "call", "typebot.start",
    "typebot.change.status", "remove.instance", "logout.instance", "instance.create", "instance.delete",
    "status.instance", "errors", "errors.webhook",
}

# Baileys message status (proto.WebMessageInfo.Status), as Evolution names them.
_STATUS_NAMES = ["ERROR", "PENDING", "SERVER_ACK", "DELIVERY_ACK", "READ", "PLAYED"]
_STATUS_MAP = {"SERVER_ACK": "sent", "DELIVERY_ACK": "delivered", "READ": "read", "PLAYED": "read",
               "ERROR": "failed"}

# Chats we never store: groups, status broadcasts, channels, broadcast lists.
_IGNORED_SUFFIXES = ("@g.us", "@broadcast", "@newsletter")

# Keys of ``message`` that carry metadata, not the message kind.
_META_KEYS = {"messageContextInfo", "base64", "mediaUrl", "speechToText", "senderKeyDistributionMessage"}
_WRAPPERS = ("ephemeralMessage", "viewOnceMessage", "viewOnceMessageV2", "viewOnceMessageV2Extension",
             "documentWithCaptionMessage", "editedMessage")
_MEDIA_KINDS = {"imageMessage": "image", "videoMessage": "video", "ptvMessage": "video", "audioMessage": "audio",
                "documentMessage": "document", "stickerMessage": "sticker"}


class _Timeout(TemporaryProviderError):
    """No answer in time: the request may or may not have taken effect."""


def _close_reason(code: int | None) -> tuple[str, bool]:
    """(what happened and what to do, whether Evolution reconnects by itself) for a close code.
    Evolution does not reconnect after 401 (logged out), 403 (forbidden), 402 and 406."""
    if code == 401:
        return _("WhatsApp logged this number out (it was disconnected on the phone). "
                 "Click Reconnect and scan a new QR code."), False
    if code == 403:
        return _("WhatsApp refused this number (it may be banned or restricted). "
                 "Check the WhatsApp app on the phone, then click Reconnect."), False
    if code in (402, 406):
        return _("WhatsApp closed this session and will not reconnect it (code %(code)s). "
                 "Check the phone, then click Reconnect and scan a new QR code.") % {"code": code}, False
    if code == 440:
        return _("This number was opened in another WhatsApp Web session; reconnecting. "
                 "Close the other session if this keeps happening."), True
    if code == 515:
        return "", True  # restart required right after pairing: routine
    return _("The connection to WhatsApp was lost (code %(code)s); reconnecting automatically.") % {
        "code": code if code is not None else "?"}, True


def _int(value: Any, default: int = 0) -> int:
    """Evolution timestamps/sizes may be an int, a numeric string or a protobuf Long {low, high}."""
    if isinstance(value, dict):
        low, high = value.get("low", 0) or 0, value.get("high", 0) or 0
        return (int(high) << 32) + (int(low) & 0xFFFFFFFF)
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def _jid_user(jid: str) -> str:
    """The user part of a JID without the device suffix: "5511...:12@s.whatsapp.net" -> "5511..."."""
    return jid.split("@", 1)[0].split(":", 1)[0]


def _normal_jid(jid: str) -> str:
    if "@" not in jid:
        return jid
    server = jid.split("@", 1)[1]
    if server == "c.us":
        server = "s.whatsapp.net"
    return f"{_jid_user(jid)}@{server}"


def _phone_of(jid: str) -> str:
    digits = "".join(ch for ch in _jid_user(jid) if ch.isdigit())
    return f"+{digits}" if digits else ""


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _ignored_chat(jid: str) -> bool:
    return any(jid.endswith(suffix) for suffix in _IGNORED_SUFFIXES)


def _br_variants(digits: str) -> set[str]:
    """A Brazilian mobile number with and without the extra 9th digit (they are the same line)."""
    variants = {digits}
    if digits.startswith("55"):
        if len(digits) == 13 and digits[4] == "9":
            variants.add(digits[:4] + digits[5:])
        elif len(digits) == 12 and digits[4] in "6789":
            variants.add(digits[:4] + "9" + digits[4:])
    return variants


def normalize_event(name: Any) -> str:
    """"MESSAGES_UPSERT", "messages-upsert" and "messages.upsert" all become "messages.upsert"."""
    if not isinstance(name, str):
        return ""
    return name.strip().lower().replace("_", ".").replace("-", ".")


class EvolutionProvider(WhatsAppProvider):
    name = "evolution"
    supports_interactive = False  # Baileys buttons are unreliable: menus go out as numbered text
    has_service_window = False

    # --- HTTP ----------------------------------------------------------------------------
    def _base_url(self, connection) -> str:
        return ((connection.config or {}).get("base_url") or settings.EVOLUTION_API_URL).rstrip("/")

    def _api_key(self, connection, *, global_key: bool = False) -> str:
        if not global_key:
            token = connection.get_credentials().get("token")
            if token:
                return token
        return settings.EVOLUTION_API_KEY

    def _instance(self, connection) -> str:
        return urllib.parse.quote(connection.instance_name, safe="")

    def _request(self, connection, method: str, path: str, body: dict | None = None, *,
                 global_key: bool = False, extra_timeout: float = 0.0) -> Any:
        url = self._base_url(connection) + path
        data = json.dumps(body).encode() if body is not None else None
        headers = {"apikey": self._api_key(connection, global_key=global_key), "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        timeout = float(settings.WHATSAPP_HTTP_TIMEOUT) + extra_timeout
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read() if exc.fp else b""
            self._raise_for_status(exc.code, raw)
        except (socket.timeout, TimeoutError) as exc:
            raise _Timeout(_("Evolution API did not answer in time (%(url)s).") % {"url": url}) from exc
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise _Timeout(_("Evolution API did not answer in time (%(url)s).") % {"url": url}) from exc
            raise TemporaryProviderError(
                _("Evolution API is unreachable (%(reason)s).") % {"reason": reason}) from exc
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise TemporaryProviderError(_("Evolution API sent a response that is not JSON.")) from exc

    @staticmethod
    def _error_message(raw: bytes) -> str:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return raw.decode(errors="replace").strip()[:300]
        if not isinstance(body, dict):
            return str(body)[:300]
        message = body.get("response", {}).get("message") if isinstance(body.get("response"), dict) else None
        if message is None:
            message = body.get("message", body.get("error", ""))
        parts = message if isinstance(message, list) else [message]
        texts = []
        for part in parts:
            if isinstance(part, dict) and part.get("exists") is False:
                number = part.get("number") or _jid_user(str(part.get("jid", "")))
                texts.append(_("This number is not on WhatsApp: %(number)s") % {"number": number})
            elif isinstance(part, dict):
                texts.append(str(part.get("message") or json.dumps(part)))
            elif part:
                texts.append(str(part))
        return "; ".join(texts)[:500] or str(body.get("error", ""))

    def _raise_for_status(self, status: int, raw: bytes):
        message = self._error_message(raw)
        if status >= 500 or status == 429:
            raise TemporaryProviderError(
                _("Evolution API failed (HTTP %(status)s): %(message)s") % {"status": status, "message": message})
        if status == 401:
            raise PermanentProviderError(
                _("Evolution API rejected the API key (HTTP 401). Check the Evolution API key."))
        lowered = message.lower()
        if "connection closed" in lowered or "timed out" in lowered or "not connected" in lowered:
            # Baileys is between connections: worth another try once it is back.
            raise TemporaryProviderError(
                _("WhatsApp is not connected right now: %(message)s") % {"message": message})
        raise PermanentProviderError(
            _("Evolution API refused the request (HTTP %(status)s): %(message)s") % {
                "status": status, "message": message})

    # --- lifecycle -----------------------------------------------------------------------
    def _webhook_config(self, connection, webhook_url: str) -> dict:
        return {
            "enabled": True,
            "url": webhook_url,
            "byEvents": False,
            "base64": bool((connection.config or {}).get("webhook_base64", False)),
            "headers": {SECRET_HEADER: connection.webhook_secret, "Content-Type": "application/json"},
            "events": list(WEBHOOK_EVENTS),
        }

    @staticmethod
    def instance_token_from_create(response: dict) -> str:
        """The instance token in a ``POST /instance/create`` response (``hash`` is a string in
        current v2 releases and ``{"apikey": ...}`` in early ones)."""
        value = response.get("hash") if isinstance(response, dict) else None
        if isinstance(value, dict):
            value = value.get("apikey") or value.get("token")
        return value if isinstance(value, str) else ""

    @staticmethod
    def _qr_from(body: Any) -> QrCode | None:
        if not isinstance(body, dict):
            return None
        qr = body.get("qrcode") if isinstance(body.get("qrcode"), dict) else body
        data_uri = qr.get("base64") or ""
        if data_uri and not data_uri.startswith("data:"):
            data_uri = "data:image/png;base64," + data_uri
        code, pairing = qr.get("code") or "", qr.get("pairingCode") or ""
        if not (data_uri or code or pairing):
            return None
        return QrCode(data_uri=data_uri, code=code, pairing_code=pairing)

    def create(self, connection, *, webhook_url: str) -> QrCode | None:
        body = {
            "instanceName": connection.instance_name,
            "integration": "WHATSAPP-BAILEYS",
            "qrcode": True,
            "webhook": self._webhook_config(connection, webhook_url),
        }
        try:
            response = self._request(connection, "POST", "/instance/create", body, global_key=True)
        except PermanentProviderError as exc:
            if "already in use" not in str(exc):
                raise
            # Created before (a retry after a crash): make sure it posts to us, then pair again.
            self._request(connection, "POST", f"/webhook/set/{self._instance(connection)}",
                          {"webhook": self._webhook_config(connection, webhook_url)}, global_key=True)
            return self.connect(connection)
        token = self.instance_token_from_create(response)
        if token:
            connection.set_credentials({**connection.get_credentials(), "token": token})
        instance_id = (response.get("instance") or {}).get("instanceId") if isinstance(response, dict) else None
        if instance_id:
            connection.external_id = instance_id
        return self._qr_from(response)

    def connect(self, connection) -> QrCode | None:
        body = self._request(connection, "GET", f"/instance/connect/{self._instance(connection)}")
        if isinstance(body, dict) and body.get("error") is True:
            # connect answers 200 with {"error": true, "message": ...} when it fails.
            raise PermanentProviderError(
                _("Evolution API could not start pairing: %(message)s") % {"message": body.get("message", "")})
        return self._qr_from(body)

    def state(self, connection) -> ConnectionUpdate:
        """The instance's state now ("close" reads as disconnected; the phone comes with events)."""
        body = self._request(connection, "GET", f"/instance/connectionState/{self._instance(connection)}")
        state = ((body or {}).get("instance") or {}).get("state") or (body or {}).get("state") or ""
        return self._state_update(state, None, {}, polled=True)

    def restart(self, connection) -> None:
        self._request(connection, "POST", f"/instance/restart/{self._instance(connection)}")

    def logout(self, connection) -> None:
        try:
            self._request(connection, "DELETE", f"/instance/logout/{self._instance(connection)}")
        except PermanentProviderError as exc:
            if "not connected" in str(exc) or "does not exist" in str(exc):
                return  # already logged out / gone: nothing to do
            raise
        except TemporaryProviderError as exc:
            if "not connected" in str(exc):
                return
            raise

    def delete(self, connection) -> None:
        path = f"/instance/delete/{self._instance(connection)}"
        try:
            self._request(connection, "DELETE", path)
        except PermanentProviderError as exc:
            text = str(exc)
            if "does not exist" in text:
                return
            if "needs to be disconnected" not in text:
                raise
            self.logout(connection)
            self._request(connection, "DELETE", path)

    def test_credentials(self, connection) -> str:
        """The paired phone number (and profile name) when connected, else the state, e.g.
        "+5511988887777 (Loja)" or "Waiting for QR code scan"."""
        from ..models import ConnectionStatus

        update = self.state(connection)
        if update.status != "connected":
            return str(ConnectionStatus(update.status).label)
        query = urllib.parse.urlencode({"instanceName": connection.instance_name})
        found = self._request(connection, "GET", f"/instance/fetchInstances?{query}")
        info = next((i for i in found or [] if isinstance(i, dict) and i.get("name") == connection.instance_name), {})
        phone = _phone_of(info.get("ownerJid") or "")
        name = info.get("profileName") or ""
        if phone and name:
            return f"{phone} ({name})"
        return phone or str(ConnectionStatus.CONNECTED.label)

    # --- outbound ------------------------------------------------------------------------
    @staticmethod
    def _number(to: str) -> str:
        """Evolution takes the digits of a phone, or a JID as is (including "...@lid")."""
        if "@" in to:
            return to
        return _digits(to)

    @staticmethod
    def _menu_text(message: OutboundMessage) -> str:
        payload = message.payload or {}
        lines = [payload.get("body") or ""]
        options = [b.get("title", "") for b in payload.get("buttons", [])]
        for section in payload.get("sections", []):
            options += [row.get("title", "") for row in section.get("rows", [])]
        lines += [f"{n}. {title}" for n, title in enumerate(options, start=1)]
        return "\n".join(line for line in lines if line)

    def send(self, connection, message: OutboundMessage) -> SendResult:
        started = time.time()
        try:
            return self._send(connection, message)
        except _Timeout:
            # The answer was lost, not necessarily the message: look before anyone retries.
            try:
                found = self._find_sent(connection, message, started, margin=1)
            except (TemporaryProviderError, PermanentProviderError):
                found = None  # still unknown: the caller retries (and reconciles) later
            if found:
                return SendResult(provider_message_id=found, status="sent")
            raise

    def _send(self, connection, message: OutboundMessage) -> SendResult:
        instance = self._instance(connection)
        number = self._number(message.to)
        if not number:
            raise PermanentProviderError(_("The recipient has no WhatsApp number."))
        media = message.media_url or message.media_base64
        if message.type in ("text", "interactive"):
            text = message.text or (self._menu_text(message) if message.type == "interactive" else "")
            if not text:
                raise PermanentProviderError(_("Cannot send an empty message."))
            body = {"number": number, "text": text}
            if message.payload.get("delay_ms"):
                body["delay"] = int(message.payload["delay_ms"])
            response = self._request(connection, "POST", f"/message/sendText/{instance}", body)
        elif message.type in ("image", "video", "document"):
            if not media:
                raise PermanentProviderError(_("The attachment is missing."))
            body = {"number": number, "mediatype": message.type, "mimetype": message.media_mime,
                    "caption": message.text, "media": media,
                    "fileName": message.media_filename or self._default_filename(message)}
            response = self._request(connection, "POST", f"/message/sendMedia/{instance}", body)
        elif message.type == "audio":
            if not media:
                raise PermanentProviderError(_("The attachment is missing."))
            response = self._request(connection, "POST", f"/message/sendWhatsAppAudio/{instance}",
                                     {"number": number, "audio": media})
        elif message.type == "sticker":
            if not media:
                raise PermanentProviderError(_("The attachment is missing."))
            response = self._request(connection, "POST", f"/message/sendSticker/{instance}",
                                     {"number": number, "sticker": media})
        elif message.type == "template":
            raise PermanentProviderError(_("Message templates exist only on WhatsApp Cloud API connections."))
        else:
            raise PermanentProviderError(_("This connection cannot send %(type)s messages.") % {"type": message.type})
        message_id = ((response or {}).get("key") or {}).get("id") if isinstance(response, dict) else None
        if not message_id:
            # Sent, perhaps, but we cannot tell which message it is: let reconciliation decide.
            raise TemporaryProviderError(_("Evolution API did not return a message id."))
        return SendResult(provider_message_id=message_id, status="sent")

    @staticmethod
    def _default_filename(message: OutboundMessage) -> str:
        ext = mimetypes.guess_extension(message.media_mime or "") or ""
        return f"{message.uid or 'file'}{ext}"

    def send_presence(self, connection, to: str, presence: str = "composing", delay_ms: int = 1200) -> None:
        # Evolution holds the request for ``delay`` ms (typing...) before answering.
        self._request(connection, "POST", f"/chat/sendPresence/{self._instance(connection)}",
                      {"number": self._number(to), "presence": presence, "delay": int(delay_ms)},
                      extra_timeout=delay_ms / 1000)

    def find_sent(self, connection, message: OutboundMessage, since: float) -> str | None:
        """Look for a message of ours to the same chat, with the same text, sent at or after
        ``since`` (the time of our first attempt). Evolution keeps the messages it sent, so a send
        whose answer was lost is found here instead of being sent twice."""
        return self._find_sent(connection, message, since, margin=5)

    def _find_sent(self, connection, message: OutboundMessage, since: float, *, margin: int) -> str | None:
        instance = self._instance(connection)
        wanted_text = message.text or (self._menu_text(message) if message.type == "interactive" else "")
        number = self._number(message.to)
        wanted = _br_variants(_digits(_jid_user(number))) if "@lid" not in number else {number}
        now = datetime.now(dt_timezone.utc)
        start = datetime.fromtimestamp(since, dt_timezone.utc) - timedelta(seconds=margin)
        where: dict = {"key": {"fromMe": True},
                       "messageTimestamp": {"gte": start.isoformat().replace("+00:00", "Z"),
                                            "lte": (now + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")}}
        for page in range(1, 6):
            body = self._request(connection, "POST", f"/chat/findMessages/{instance}",
                                 {"where": where, "page": page, "offset": 50})
            block = (body or {}).get("messages", body) if isinstance(body, dict) else body
            records = block.get("records", []) if isinstance(block, dict) else (block or [])
            for record in records:
                key = record.get("key") or {}
                if not key.get("fromMe") or _int(record.get("messageTimestamp")) < int(since) - margin:
                    continue
                jids = [str(key.get(name) or "") for name in ("remoteJid", "remoteJidAlt")]
                same_chat = any(
                    (jid in wanted) if "@lid" in jid else bool(_br_variants(_digits(_jid_user(jid))) & wanted)
                    for jid in jids if jid)
                if same_chat and self._record_matches(record, message, wanted_text):
                    return key.get("id")
            pages = block.get("pages", 1) if isinstance(block, dict) else 1
            if page >= _int(pages, 1):
                break
        return None

    @staticmethod
    def _record_matches(record: dict, message: OutboundMessage, text: str) -> bool:
        content = _unwrap(record.get("message") or {})
        if message.type in ("text", "interactive"):
            found = content.get("conversation") or (content.get("extendedTextMessage") or {}).get("text") or ""
            return found == text
        kind = {"image": "imageMessage", "video": "videoMessage", "document": "documentMessage",
                "audio": "audioMessage", "sticker": "stickerMessage"}.get(message.type)
        part = content.get(kind) if kind else None
        if not isinstance(part, dict):
            return False
        return message.type in ("audio", "sticker") or (part.get("caption") or "") == (message.text or "")

    def fetch_media(self, connection, message: InboundMessage) -> tuple[bytes, str, str] | None:
        media = message.media or {}
        mime = media.get("mime") or "application/octet-stream"
        filename = media.get("filename") or ""
        inline = media.get("base64")
        if not inline:
            message_id = media.get("message_id") or message.provider_message_id
            try:
                body = self._request(connection, "POST",
                                     f"/chat/getBase64FromMediaMessage/{self._instance(connection)}",
                                     {"message": {"key": {"id": message_id}}, "convertToMp4": False})
            except PermanentProviderError:
                log.info("media of %s is no longer available on Evolution", message_id)
                return None
            inline = (body or {}).get("base64") if isinstance(body, dict) else None
            if not inline:
                return None
            mime = body.get("mimetype") or mime
            filename = filename or body.get("fileName") or ""
        if "," in inline[:100] and inline.startswith("data:"):
            inline = inline.split(",", 1)[1]
        try:
            content = base64.b64decode(inline, validate=False)
        except (binascii.Error, ValueError):
            return None
        mime = mime.split(";", 1)[0].strip() or "application/octet-stream"
        if not filename:
            filename = f"{message.provider_message_id}{mimetypes.guess_extension(mime) or ''}"
        return content, mime, filename

    # --- inbound -------------------------------------------------------------------------
    def authenticate(self, connection, *, headers: dict[str, str], body: bytes, query: dict[str, str]) -> None:
        given = headers.get(SECRET_HEADER, "")
        expected = connection.webhook_secret or ""
        if not given or not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise WebhookRejected(401, "missing or wrong x-webhook-secret header")

    def parse_webhook(self, connection, payload: dict) -> list[WebhookItem]:
        event = normalize_event(payload.get("event"))
        if not event:
            raise WebhookRejected(400, "missing event")
        if event not in KNOWN_EVENTS:
            raise WebhookRejected(400, f"unknown event {payload.get('event')!r}")
        instance = payload.get("instance")
        if instance and connection.instance_name and instance != connection.instance_name:
            raise WebhookRejected(400, f"event for instance {instance!r}, not this connection's")
        data = payload.get("data")
        if event in ("messages.upsert", "send.message"):
            return self._parse_messages(data, from_send=event == "send.message")
        if event == "messages.update":
            return self._parse_statuses(data)
        if event == "connection.update":
            return self._parse_connection(data, payload)
        if event == "qrcode.updated":
            return self._parse_qrcode(data)
        return []

    # messages.upsert / send.message
    def _parse_messages(self, data: Any, *, from_send: bool) -> list[WebhookItem]:
        records = data if isinstance(data, list) else [data]
        if not records or not all(isinstance(r, dict) for r in records):
            raise WebhookRejected(400, "data must be a message object or a list of them")
        items = []
        for record in records:
            key = record.get("key")
            if not isinstance(key, dict) or not key.get("id") or not isinstance(key.get("remoteJid"), str):
                raise WebhookRejected(400, "message without key.id / key.remoteJid")
            item = self._message_item(record, key, from_send=from_send)
            if item is not None:
                items.append(item)
        return items

    def _message_item(self, record: dict, key: dict, *, from_send: bool) -> WebhookItem | None:
        remote = key["remoteJid"]
        if _ignored_chat(remote) or _ignored_chat(str(key.get("remoteJidAlt") or "")):
            return None
        message = record.get("message")
        if not isinstance(message, dict):
            return None  # receipts, protocol stubs: nothing to show
        from_me = bool(key.get("fromMe")) or from_send
        contact = self._contact(record, key, from_me=from_me)
        if not (contact.phone or contact.lid or contact.wa_jid):
            return None
        parsed = self._content(message, key)
        if parsed is None:
            return None
        msg_type, text, media, payload = parsed
        raw = {k: v for k, v in record.items() if k != "message"}
        raw["message"] = {k: v for k, v in message.items() if k != "base64"}
        inbound = InboundMessage(
            provider_message_id=key["id"], contact=contact,
            timestamp=float(_int(record.get("messageTimestamp")) or datetime.now().timestamp()),
            type=msg_type, text=text, from_me=from_me, media=media, payload=payload, raw=raw,
        )
        return WebhookItem(kind="message", dedup_key=f"msg:{key['id']}", data=inbound.to_dict())

    @staticmethod
    def _contact(record: dict, key: dict, *, from_me: bool) -> ContactRef:
        ref = ContactRef(name="" if from_me else (record.get("pushName") or "").strip()[:120])
        candidates = [key.get("remoteJid"), key.get("remoteJidAlt"), key.get("senderPn"), key.get("senderLid")]
        for jid in candidates:
            if not isinstance(jid, str) or "@" not in jid:
                if isinstance(jid, str) and _digits(jid) and not ref.phone:  # bare phone digits
                    ref.phone = "+" + _digits(jid)
                    ref.wa_jid = f"{_digits(jid)}@s.whatsapp.net"
                continue
            jid = _normal_jid(jid)
            if jid.endswith("@lid"):
                ref.lid = ref.lid or jid
            elif jid.endswith("@s.whatsapp.net") and not ref.wa_jid:
                ref.wa_jid = jid
                ref.phone = _phone_of(jid)
        return ref

    @staticmethod
    def _content(message: dict, key: dict) -> tuple[str, str, dict, dict] | None:
        inline = message.get("base64") if isinstance(message.get("base64"), str) else ""
        body = _unwrap(message)
        kinds = [k for k in body if k not in _META_KEYS]
        if not kinds:
            return None
        if "conversation" in body or "extendedTextMessage" in body:
            text = body.get("conversation") or (body.get("extendedTextMessage") or {}).get("text") or ""
            return "text", text, {}, {}
        for kind, msg_type in _MEDIA_KINDS.items():
            part = body.get(kind)
            if isinstance(part, dict):
                mime = (part.get("mimetype") or "").split(";", 1)[0].strip()
                media = {"message_id": key["id"], "mime": mime,
                         "filename": part.get("fileName") or part.get("title") or "",
                         "size": _int(part.get("fileLength"))}
                if kind == "audioMessage":
                    media["voice"] = bool(part.get("ptt"))
                    media["seconds"] = _int(part.get("seconds"))
                if inline:
                    media["base64"] = inline
                return msg_type, part.get("caption") or "", media, {}
        for kind in ("locationMessage", "liveLocationMessage"):
            part = body.get(kind)
            if isinstance(part, dict):
                return "location", part.get("name") or part.get("address") or "", {}, {
                    "latitude": part.get("degreesLatitude"), "longitude": part.get("degreesLongitude"),
                    "name": part.get("name") or "", "address": part.get("address") or ""}
        if isinstance(body.get("buttonsResponseMessage"), dict):
            part = body["buttonsResponseMessage"]
            return "text", part.get("selectedDisplayText") or "", {}, {"reply_id": part.get("selectedButtonId") or ""}
        if isinstance(body.get("templateButtonReplyMessage"), dict):
            part = body["templateButtonReplyMessage"]
            return "text", part.get("selectedDisplayText") or "", {}, {"reply_id": part.get("selectedId") or ""}
        if isinstance(body.get("listResponseMessage"), dict):
            part = body["listResponseMessage"]
            reply_id = (part.get("singleSelectReply") or {}).get("selectedRowId") or ""
            return "text", part.get("title") or "", {}, {"reply_id": reply_id}
        if isinstance(body.get("interactiveResponseMessage"), dict):
            part = body["interactiveResponseMessage"]
            params = (part.get("nativeFlowResponseMessage") or {}).get("paramsJson") or "{}"
            try:
                reply_id = (json.loads(params) or {}).get("id", "")
            except (ValueError, AttributeError):
                reply_id = ""
            return "text", (part.get("body") or {}).get("text") or "", {}, {"reply_id": reply_id}
        if isinstance(body.get("reactionMessage"), dict):
            part = body["reactionMessage"]
            return "reaction", part.get("text") or "", {}, {
                "target_id": (part.get("key") or {}).get("id") or "", "emoji": part.get("text") or ""}
        if "protocolMessage" in body:
            return None  # edits, deletions, key shares: not a message of the chat
        return "text", "", {}, {"unsupported": kinds[0]}

    # messages.update
    def _parse_statuses(self, data: Any) -> list[WebhookItem]:
        records = data if isinstance(data, list) else [data]
        if not records or not all(isinstance(r, dict) for r in records):
            raise WebhookRejected(400, "data must be a status object or a list of them")
        items = []
        for record in records:
            key = record.get("key") if isinstance(record.get("key"), dict) else {}
            update = record.get("update") if isinstance(record.get("update"), dict) else {}
            message_id = record.get("keyId") or key.get("id")
            raw_status = record.get("status", update.get("status"))
            if not message_id or raw_status is None:
                raise WebhookRejected(400, "status without keyId / status")
            remote = str(record.get("remoteJid") or key.get("remoteJid") or "")
            from_me = record.get("fromMe", key.get("fromMe"))
            if _ignored_chat(remote) or from_me is False:
                continue  # groups, or a read mark on the customer's message
            if isinstance(raw_status, int) or (isinstance(raw_status, str) and raw_status.isdigit()):
                index = int(raw_status)
                raw_status = _STATUS_NAMES[index] if 0 <= index < len(_STATUS_NAMES) else str(raw_status)
            status = _STATUS_MAP.get(str(raw_status).upper())
            if status is None:
                continue  # PENDING, DELETED, ...: no tick to move
            update_obj = StatusUpdate(
                provider_message_id=message_id, status=status,
                timestamp=float(_int(record.get("messageTimestamp") or update.get("messageTimestamp"))
                                or datetime.now().timestamp()),
                error=_("WhatsApp could not deliver this message.") if status == "failed" else "",
                recipient=remote,
            )
            items.append(WebhookItem(kind="status", dedup_key=f"status:{message_id}:{str(raw_status).upper()}",
                                     data=update_obj.to_dict()))
        return items

    # connection.update
    @staticmethod
    def _state_update(state: str, status_reason: Any, data: dict, *, polled: bool = False) -> ConnectionUpdate:
        """``polled``: the answer of connectionState (a state, no event): "close" then just means
        not paired, with nothing happening by itself."""
        code = _int(status_reason, default=0) or None
        if state == "open":
            owner = data.get("wuid") or data.get("ownerJid") or ""
            return ConnectionUpdate(status="connected", phone=_phone_of(owner) if owner else "")
        if state == "connecting":
            return ConnectionUpdate(status="connecting")
        if state == "refused":
            return ConnectionUpdate(status="error", reconnect=False,
                                    error=_("QR code limit reached: click Reconnect for a new code"))
        if state == "close":
            if polled:
                return ConnectionUpdate(status="disconnected", reconnect=False)
            error, reconnect = _close_reason(code)
            return ConnectionUpdate(status="disconnected", error=error, reconnect=reconnect)
        return ConnectionUpdate(status="disconnected", error=_("Unknown state: %(state)s") % {"state": state},
                                reconnect=False)

    def _parse_connection(self, data: Any, payload: dict) -> list[WebhookItem]:
        if not isinstance(data, dict) or not isinstance(data.get("state"), str):
            raise WebhookRejected(400, "connection.update without data.state")
        state = data["state"]
        if state not in ("open", "connecting", "close", "refused"):
            return []
        update = self._state_update(state, data.get("statusReason"), data)
        stamp = payload.get("date_time") or ""
        dedup = f"conn:{state}:{data.get('statusReason', '')}:{stamp}"
        return [WebhookItem(kind="connection", dedup_key=dedup, data=update.to_dict())]

    # qrcode.updated
    @staticmethod
    def _parse_qrcode(data: Any) -> list[WebhookItem]:
        if not isinstance(data, dict):
            raise WebhookRejected(400, "qrcode.updated without data")
        qr = data.get("qrcode")
        if not isinstance(qr, dict):
            # "QR code limit reached" notice: the connection.update "refused" that follows says it.
            return []
        image, code = qr.get("base64") or "", qr.get("code") or ""
        if image and not image.startswith("data:"):
            image = "data:image/png;base64," + image
        value = image or code or qr.get("pairingCode") or ""
        if not value:
            return []
        digest = hashlib.sha256((code or value).encode()).hexdigest()[:24]
        update = ConnectionUpdate(status="awaiting_qr", qr_code=value)
        return [WebhookItem(kind="qrcode", dedup_key=f"qr:{digest}", data=update.to_dict())]


def _unwrap(message: dict) -> dict:
    """Inner content of wrapper messages (ephemeral, view once, document with caption)."""
    body = message
    for _depth in range(4):
        for wrapper in _WRAPPERS:
            inner = body.get(wrapper)
            if isinstance(inner, dict) and isinstance(inner.get("message"), dict):
                body = inner["message"]
                break
        else:
            return body
    return body


register_provider(EvolutionProvider())

__all__ = ["EvolutionProvider", "normalize_event"]
