"""WhatsApp Cloud API (the official one, on Meta's Graph API).

Connection fields: ``instance_name`` is the phone_number_id (or ``config["phone_number_id"]``),
``config`` holds ``waba_id`` and optional ``graph_url`` / ``graph_version`` overrides, and the
encrypted credentials hold ``access_token`` (a system-user token), ``app_secret`` (signs the
webhooks) and ``verify_token`` (our answer to the GET subscription handshake).

Webhooks are configured per connection (the phone number's ``override_callback_uri`` or the app's
callback URL): each connection has its own ``/hooks/cloud_api/<key>/``. One Meta app can still
serve several numbers and WABAs and a payload carries ``metadata.phone_number_id`` per change, so
a change for another number is skipped (and logged) rather than stored under the wrong connection.
It is not rejected: the other changes of the same payload are genuine, and a 4xx would make Meta
retry the whole payload for hours.

Plain ``urllib`` speaks to the Graph API: the project has no HTTP client dependency and needs none.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import mimetypes
import re
import socket
import urllib.request
import uuid
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from .base import (
    ConnectionUpdate,
    ContactRef,
    InboundMessage,
    OutboundMessage,
    PermanentProviderError,
    SendResult,
    StatusUpdate,
    TemporaryProviderError,
    WebhookItem,
    WebhookRejected,
    WhatsAppProvider,
    register_provider,
)

log = logging.getLogger(__name__)

MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
CAPTION_TYPES = ("image", "video", "document")
STATUSES = ("sent", "delivered", "read", "failed")
# Graph error codes that mean "try again later" even when the HTTP status is 4xx:
# 1/2 unknown/temporary, 4/17/80007 API rate limits, 130429 throughput, 131056 pair rate limit,
# 131000 "something went wrong", 131016 service unavailable, 133016 registration rate limit.
TRANSIENT_CODES = {1, 2, 4, 17, 80007, 130429, 131000, 131016, 131056, 133016}

# Limits of interactive messages (Graph rejects anything longer, so we say why first).
BUTTON_MAX = 3
BUTTON_TITLE_MAX = 20
BUTTON_ID_MAX = 256
LIST_ROWS_MAX = 10
LIST_SECTIONS_MAX = 10
LIST_BUTTON_MAX = 20
ROW_TITLE_MAX = 24
ROW_ID_MAX = 200
ROW_DESCRIPTION_MAX = 72
SECTION_TITLE_MAX = 24
BODY_MAX = 1024


class _Response:
    def __init__(self, status: int, body: bytes, headers):
        self.status = status
        self.body = body
        self.headers = headers

    def json(self):
        try:
            return json.loads(self.body or b"{}")
        except ValueError:
            raise TemporaryProviderError(_("Graph API answered %(status)s with a body that is not JSON") % {"status": self.status}) from None


def _graph_error(status: int, body: bytes) -> str:
    """A readable text from Graph's ``{"error": {"message", "code", "error_data": {"details"}}}``."""
    try:
        error = json.loads(body or b"{}").get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    if not isinstance(error, dict) or not error.get("message"):
        text = body[:200].decode(errors="replace").strip()
        return f"Graph API error {status}" + (f": {text}" if text else "")
    message = str(error["message"])
    details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else ""
    if details and details not in message:
        message = f"{message}: {details}"
    if error.get("code") is not None:
        message = f"{message} (code {error['code']})"
    return message


def _error_code(body: bytes) -> int | None:
    try:
        code = (json.loads(body or b"{}").get("error") or {}).get("code")
        return int(code) if code is not None else None
    except (ValueError, TypeError, AttributeError):
        return None


def _digits(value: str) -> str:
    """The recipient as the Cloud API wants it: digits only ("+55 11 98765-4321" -> "5511987654321")."""
    value = (value or "").split("@", 1)[0]
    return re.sub(r"\D", "", value)


def _timestamp(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


class CloudApiProvider(WhatsAppProvider):
    name = "cloud_api"
    supports_interactive = True
    has_service_window = True

    # --- configuration -------------------------------------------------------------------
    @staticmethod
    def _base(connection) -> str:
        return (connection.config.get("graph_url") or settings.WHATSAPP_GRAPH_API_URL).rstrip("/")

    @staticmethod
    def _version(connection) -> str:
        return (connection.config.get("graph_version") or settings.WHATSAPP_GRAPH_API_VERSION).strip("/")

    @staticmethod
    def _phone_number_id(connection) -> str:
        return str(connection.instance_name or connection.config.get("phone_number_id") or "")

    def _url(self, connection, path: str) -> str:
        return f"{self._base(connection)}/{self._version(connection)}/{path.lstrip('/')}"

    def _token(self, connection) -> str:
        token = connection.get_credentials().get("access_token", "")
        if not token:
            raise PermanentProviderError(_("The Cloud API access token is missing: add it in the connection settings."))
        return token

    # --- HTTP ----------------------------------------------------------------------------
    def _request(self, connection, method: str, url: str, *, json_body=None, data: bytes | None = None,
                 content_type: str = "", params: dict | None = None) -> _Response:
        """One Graph call. 5xx, 429, transient Graph codes, timeouts and connection errors raise
        TemporaryProviderError; any other 4xx PermanentProviderError with Graph's own message."""
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
        headers = {"Authorization": f"Bearer {self._token(connection)}", "Accept": "application/json"}
        if json_body is not None:
            data = json.dumps(json_body).encode()
            content_type = "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=settings.WHATSAPP_HTTP_TIMEOUT) as response:
                return _Response(response.status, response.read(), response.headers)
        except HTTPError as exc:
            body = exc.read() if exc.fp else b""
            reason = _graph_error(exc.code, body)
            if exc.code >= 500 or exc.code == 429 or _error_code(body) in TRANSIENT_CODES:
                raise TemporaryProviderError(reason) from None
            raise PermanentProviderError(reason) from None
        except (socket.timeout, TimeoutError) as exc:
            raise TemporaryProviderError(_("Graph API timed out: %(error)s") % {"error": exc}) from None
        except URLError as exc:
            raise TemporaryProviderError(_("Graph API unreachable: %(error)s") % {"error": exc.reason}) from None
        except (ConnectionError, OSError) as exc:
            raise TemporaryProviderError(_("Graph API unreachable: %(error)s") % {"error": exc}) from None

    # --- inbound -------------------------------------------------------------------------
    def handshake(self, connection, query: dict[str, str]) -> str:
        expected = connection.get_credentials().get("verify_token", "")
        given = query.get("hub.verify_token", "")
        if query.get("hub.mode") != "subscribe":
            raise WebhookRejected(403, "hub.mode must be subscribe")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise WebhookRejected(403, "verify token does not match")
        return query.get("hub.challenge", "")

    def authenticate(self, connection, *, headers: dict[str, str], body: bytes, query: dict[str, str]) -> None:
        secret = connection.get_credentials().get("app_secret", "")
        if not secret:
            raise WebhookRejected(401, "this connection has no app secret to check signatures with")
        signature = headers.get("x-hub-signature-256", "")
        if not signature.startswith("sha256="):
            raise WebhookRejected(401, "missing X-Hub-Signature-256")
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature[len("sha256="):].strip().lower().encode(), expected.encode()):
            raise WebhookRejected(401, "invalid signature")

    def parse_webhook(self, connection, payload: dict) -> list[WebhookItem]:
        if payload.get("object") != "whatsapp_business_account":
            raise WebhookRejected(400, "object must be whatsapp_business_account")
        entries = payload.get("entry")
        if not isinstance(entries, list):
            raise WebhookRejected(400, "entry must be a list")
        ours = self._phone_number_id(connection)
        items: list[WebhookItem] = []
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("changes"), list):
                raise WebhookRejected(400, "each entry needs a changes list")
            for change in entry["changes"]:
                if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                    raise WebhookRejected(400, "each change needs a value object")
                if change.get("field", "messages") != "messages":
                    continue  # account/template updates: not part of the message path
                value = change["value"]
                metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
                number = str(metadata.get("phone_number_id") or "")
                if ours and number != ours:
                    log.warning("cloud_api webhook for phone_number_id %r skipped on connection %s (%r)",
                                number, connection.pk, ours)
                    continue
                items += self._parse_value(value)
        return items

    def _parse_value(self, value: dict) -> list[WebhookItem]:
        contacts = [c for c in value.get("contacts") or [] if isinstance(c, dict)]
        by_wa_id = {str(c.get("wa_id")): c for c in contacts if c.get("wa_id")}
        items = []
        messages = value.get("messages") or []
        statuses = value.get("statuses") or []
        if not isinstance(messages, list) or not isinstance(statuses, list):
            raise WebhookRejected(400, "messages and statuses must be lists")
        for raw in messages:
            if not isinstance(raw, dict) or not raw.get("id"):
                raise WebhookRejected(400, "a message without an id")
            sender = str(raw.get("from") or "")
            contact = by_wa_id.get(sender) or (contacts[0] if len(contacts) == 1 else {})
            message = self._parse_message(raw, contact)
            items.append(WebhookItem(kind="message", dedup_key=f"msg:{raw['id']}", data=message.to_dict()))
        for raw in statuses:
            if not isinstance(raw, dict) or not raw.get("id"):
                raise WebhookRejected(400, "a status without an id")
            status = str(raw.get("status") or "")
            if status not in STATUSES:
                continue  # e.g. "deleted", "warning": nothing to show on a tick
            update = StatusUpdate(provider_message_id=str(raw["id"]), status=status,
                                  timestamp=_timestamp(raw.get("timestamp")),
                                  error=self._status_error(raw), recipient=str(raw.get("recipient_id") or ""),
                                  callback_data=str(raw.get("biz_opaque_callback_data") or ""))
            items.append(WebhookItem(kind="status", dedup_key=f"status:{raw['id']}:{status}", data=update.to_dict()))
        return items

    @staticmethod
    def _status_error(raw: dict) -> str:
        errors = raw.get("errors") or []
        if not errors or not isinstance(errors[0], dict):
            return ""
        error = errors[0]
        text = str(error.get("title") or error.get("message") or "")
        details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else ""
        if details and details != text:
            text = f"{text}: {details}" if text else str(details)
        if error.get("code") is not None:
            text = f"{text} (code {error['code']})"
        return text

    def _parse_message(self, raw: dict, contact: dict) -> InboundMessage:
        wa_id = str(contact.get("wa_id") or raw.get("from") or "")
        ref = ContactRef(
            phone=f"+{_digits(wa_id)}" if _digits(wa_id) else "",
            bsuid=str(contact.get("user_id") or raw.get("from_user_id") or ""),
            name=str((contact.get("profile") or {}).get("name") or ""),
        )
        kind = str(raw.get("type") or "")
        content = raw.get(kind) if isinstance(raw.get(kind), dict) else {}
        message = InboundMessage(provider_message_id=str(raw["id"]), contact=ref,
                                 timestamp=_timestamp(raw.get("timestamp")), raw=raw)
        context = raw.get("context")
        if isinstance(context, dict) and context.get("id"):
            message.payload["context_id"] = str(context["id"])  # the message this one replies to
        if kind == "text":
            message.text = str(content.get("body") or "")
        elif kind in MEDIA_TYPES:
            message.type = kind
            message.text = str(content.get("caption") or "")
            message.media = {"media_id": str(content.get("id") or ""), "mime": str(content.get("mime_type") or ""),
                             "filename": str(content.get("filename") or "")}
            if content.get("sha256"):
                message.media["sha256"] = content["sha256"]
            if kind == "audio" and content.get("voice"):
                message.payload["voice"] = True
        elif kind == "location":
            message.type = "location"
            message.text = str(content.get("name") or content.get("address") or "")
            message.payload.update({key: content[key] for key in ("latitude", "longitude", "name", "address", "url")
                                    if key in content})
        elif kind == "interactive":
            reply_type = str(content.get("type") or "")
            reply = content.get(reply_type) if isinstance(content.get(reply_type), dict) else {}
            if reply_type in ("button_reply", "list_reply"):
                message.text = str(reply.get("title") or "")
                message.payload.update(reply_id=str(reply.get("id") or ""), reply_type=reply_type)
                if reply.get("description"):
                    message.payload["description"] = reply["description"]
            else:  # nfm_reply (WhatsApp Flows) and the like
                message.payload["unsupported"] = f"interactive.{reply_type}"
        elif kind == "button":  # a quick-reply button of a template
            message.text = str(content.get("text") or "")
            message.payload["reply_id"] = str(content.get("payload") or "")
            message.payload["reply_type"] = "template_button"
        elif kind == "reaction":
            message.type = "reaction"
            message.text = str(content.get("emoji") or "")
            message.payload.update({"message_id": str(content.get("message_id") or ""), "emoji": message.text})
        else:  # unsupported, system, contacts, order, ...
            message.payload["unsupported"] = kind or "unknown"
        return message

    def fetch_media(self, connection, message: InboundMessage) -> tuple[bytes, str, str] | None:
        media_id = (message.media or {}).get("media_id")
        if not media_id:
            return None
        info = self._request(connection, "GET", self._url(connection, media_id)).json()
        url = info.get("url")
        if not url:
            raise PermanentProviderError(_("Graph API gave no download URL for media %(id)s") % {"id": media_id})
        content = self._request(connection, "GET", url).body
        mime = info.get("mime_type") or message.media.get("mime") or "application/octet-stream"
        filename = message.media.get("filename") or f"{message.type or 'file'}-{media_id}"
        if "." not in filename:
            filename += mimetypes.guess_extension(mime.split(";")[0].strip()) or ""
        return content, mime, filename

    # --- outbound ------------------------------------------------------------------------
    def send(self, connection, message: OutboundMessage) -> SendResult:
        to = _digits(message.to)
        if not to:
            raise PermanentProviderError(_("Invalid recipient “%(to)s”: a phone number is needed") % {"to": message.to})
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
                "biz_opaque_callback_data": str(message.uid)}
        kind = message.type
        if kind == "text":
            if not message.text.strip():
                raise PermanentProviderError(_("The message text is empty"))
            body.update(type="text", text={"body": message.text, "preview_url": False})
        elif kind in MEDIA_TYPES:
            body.update(type=kind, **{kind: self._media_object(connection, message)})
        elif kind == "interactive":
            body.update(type="interactive", interactive=self._interactive(message))
        elif kind == "template":
            body.update(type="template", template=self._template(message))
        else:
            raise PermanentProviderError(_("The Cloud API cannot send messages of type “%(type)s”") % {"type": kind})
        data = self._request(connection, "POST", self._url(connection, f"{self._phone_number_id(connection)}/messages"),
                             json_body=body).json()
        try:
            return SendResult(provider_message_id=str(data["messages"][0]["id"]))
        except (KeyError, IndexError, TypeError):
            raise TemporaryProviderError(_("Graph API accepted the message but returned no message id")) from None

    def _media_object(self, connection, message: OutboundMessage) -> dict:
        if message.media_url:
            media = {"link": message.media_url}
        elif message.media_base64:
            media = {"id": self._upload(connection, message)}
        else:
            raise PermanentProviderError(_("A media message needs a file"))
        if message.text and message.type in CAPTION_TYPES:
            media["caption"] = message.text
        if message.type == "document" and message.media_filename:
            media["filename"] = message.media_filename
        return media

    def _upload(self, connection, message: OutboundMessage) -> str:
        """POST /{phone_number_id}/media (multipart) -> the media id to send."""
        try:
            content = base64.b64decode(message.media_base64, validate=False)
        except (ValueError, TypeError):
            raise PermanentProviderError(_("The attachment is not valid base64")) from None
        mime = message.media_mime or "application/octet-stream"
        filename = (message.media_filename or f"file{mimetypes.guess_extension(mime) or ''}").replace('"', "")
        boundary = f"----cloudapi{uuid.uuid4().hex}"
        parts = []
        for field, value in (("messaging_product", "whatsapp"), ("type", mime)):
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n{value}\r\n'.encode())
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                     f"Content-Type: {mime}\r\n\r\n".encode() + content + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        data = self._request(connection, "POST", self._url(connection, f"{self._phone_number_id(connection)}/media"),
                             data=b"".join(parts), content_type=f"multipart/form-data; boundary={boundary}").json()
        if not data.get("id"):
            raise TemporaryProviderError(_("Graph API stored the upload but returned no media id"))
        return str(data["id"])

    @staticmethod
    def _check(condition: bool, reason: str) -> None:
        if not condition:
            raise PermanentProviderError(reason)

    def _interactive(self, message: OutboundMessage) -> dict:
        payload = message.payload or {}
        text = str(payload.get("body") or message.text or "")
        self._check(bool(text.strip()), _("A menu needs a body text"))
        self._check(len(text) <= BODY_MAX, _("The menu text is longer than %(max)d characters") % {"max": BODY_MAX})
        if payload.get("buttons"):
            buttons = payload["buttons"]
            self._check(len(buttons) <= BUTTON_MAX, _("At most %(max)d buttons (got %(count)d): use a list") % {"max": BUTTON_MAX, "count": len(buttons)})
            seen = set()
            out = []
            for button in buttons:
                bid, title = str(button.get("id") or ""), str(button.get("title") or "")
                self._check(bool(bid) and len(bid) <= BUTTON_ID_MAX, _("A button id must have 1-%(max)d characters") % {"max": BUTTON_ID_MAX})
                self._check(bool(title.strip()) and len(title) <= BUTTON_TITLE_MAX,
                            _("The button title “%(title)s” must have 1-%(max)d characters") % {"title": title, "max": BUTTON_TITLE_MAX})
                self._check(bid not in seen, _("Duplicate button id “%(id)s”") % {"id": bid})
                seen.add(bid)
                out.append({"type": "reply", "reply": {"id": bid, "title": title}})
            return {"type": "button", "body": {"text": text}, "action": {"buttons": out}}
        sections = payload.get("sections") or []
        self._check(bool(sections), _("A menu needs buttons or list sections"))
        self._check(len(sections) <= LIST_SECTIONS_MAX, _("At most %(max)d list sections") % {"max": LIST_SECTIONS_MAX})
        label = str(payload.get("button") or "")
        self._check(bool(label.strip()) and len(label) <= LIST_BUTTON_MAX,
                    _("The list button label must have 1-%(max)d characters") % {"max": LIST_BUTTON_MAX})
        total = sum(len(section.get("rows") or []) for section in sections)
        self._check(0 < total <= LIST_ROWS_MAX, _("A list holds 1-%(max)d options (got %(count)d)") % {"max": LIST_ROWS_MAX, "count": total})
        seen, out_sections = set(), []
        for section in sections:
            title = str(section.get("title") or "")
            self._check(len(sections) == 1 or bool(title), _("Each section needs a title when there are several"))
            self._check(len(title) <= SECTION_TITLE_MAX, _("A section title is longer than %(max)d characters") % {"max": SECTION_TITLE_MAX})
            rows = []
            for row in section.get("rows") or []:
                rid, rtitle = str(row.get("id") or ""), str(row.get("title") or "")
                description = str(row.get("description") or "")
                self._check(bool(rid) and len(rid) <= ROW_ID_MAX, _("An option id must have 1-%(max)d characters") % {"max": ROW_ID_MAX})
                self._check(bool(rtitle.strip()) and len(rtitle) <= ROW_TITLE_MAX,
                            _("The option title “%(title)s” must have 1-%(max)d characters") % {"title": rtitle, "max": ROW_TITLE_MAX})
                self._check(len(description) <= ROW_DESCRIPTION_MAX,
                            _("An option description is longer than %(max)d characters") % {"max": ROW_DESCRIPTION_MAX})
                self._check(rid not in seen, _("Duplicate option id “%(id)s”") % {"id": rid})
                seen.add(rid)
                rows.append({"id": rid, "title": rtitle, **({"description": description} if description else {})})
            out_sections.append({**({"title": title} if title else {}), "rows": rows})
        return {"type": "list", "body": {"text": text}, "action": {"button": label, "sections": out_sections}}

    def _template(self, message: OutboundMessage) -> dict:
        payload = message.payload or {}
        name, language = str(payload.get("name") or ""), str(payload.get("language") or "")
        self._check(bool(name) and bool(language), _("A template message needs the template name and language"))
        template = {"name": name, "language": {"code": language}}
        variables = [str(v) for v in payload.get("variables") or []]
        if variables:
            template["components"] = [{"type": "body",
                                       "parameters": [{"type": "text", "text": v} for v in variables]}]
        return template

    # --- lifecycle -----------------------------------------------------------------------
    def _phone_info(self, connection) -> dict:
        number = self._phone_number_id(connection)
        if not number:
            raise PermanentProviderError(_("The phone number ID is missing: add it in the connection settings."))
        return self._request(connection, "GET", self._url(connection, number),
                             params={"fields": "display_phone_number,verified_name"}).json()

    def test_credentials(self, connection) -> str:
        info = self._phone_info(connection)
        phone = str(info.get("display_phone_number") or "")
        if phone and not phone.startswith("+"):
            phone = f"+{phone}"
        name = info.get("verified_name")
        return f"{phone} ({name})" if name else phone

    def state(self, connection) -> ConnectionUpdate:
        """The Cloud API has no session to lose: the number is connected while the token works."""
        try:
            info = self._phone_info(connection)
        except PermanentProviderError as exc:
            return ConnectionUpdate(status="error", error=str(exc), reconnect=False)
        phone = "+" + _digits(str(info.get("display_phone_number") or "")) if info.get("display_phone_number") else ""
        return ConnectionUpdate(status="connected", phone=phone)

    def sync_templates(self, connection) -> list[dict]:
        waba_id = str(connection.config.get("waba_id") or "")
        if not waba_id:
            raise PermanentProviderError(_("The WhatsApp Business Account ID is missing: add it in the connection settings."))
        base = urlsplit(self._base(connection))
        url = self._url(connection, f"{waba_id}/message_templates")
        params: dict | None = {"fields": "name,language,status,category,components", "limit": 100}
        templates: list[dict] = []
        for _page in range(100):  # a hard stop against a paging loop
            data = self._request(connection, "GET", url, params=params).json()
            templates += [t for t in data.get("data") or [] if isinstance(t, dict)]
            paging = data.get("paging") or {}
            following = paging.get("next")
            if not following:
                break
            if urlsplit(following).netloc == base.netloc:
                url, params = following, None
            else:  # never send our token to a host we were not configured with
                after = (paging.get("cursors") or {}).get("after")
                if not after:
                    break
                params = {"fields": "name,language,status,category,components", "limit": 100, "after": after}
        return templates


register_provider(CloudApiProvider())
