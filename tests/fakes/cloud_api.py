"""A fake WhatsApp Cloud API (Meta's Graph API) on 127.0.0.1, plus the webhooks Meta sends.

``FakeGraphApi`` serves, on a free port in a thread, the endpoints the provider calls, with bodies
shaped as Meta documents them:

- ``POST /{version}/{phone_number_id}/messages`` -> ``{"messaging_product", "contacts": [{"input",
  "wa_id"}], "messages": [{"id": "wamid...."}]}`` (templates are checked against ``templates``)
- ``POST /{version}/{phone_number_id}/media`` (multipart) -> ``{"id"}``
- ``GET /{version}/{media_id}`` -> ``{"messaging_product", "url", "mime_type", "sha256", "file_size", "id"}``
  and ``GET /whatsapp_business/attachments/?mid=...`` -> the bytes (bearer needed, like lookaside)
- ``GET /{version}/{phone_number_id}?fields=...`` -> ``{"display_phone_number", "verified_name", "id"}``
- ``GET /{version}/{waba_id}/message_templates`` -> ``{"data": [...], "paging": {"cursors", "next"}}``

Errors come in Graph's shape ``{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id"}}``: a wrong bearer token gives 401 (code 190); ``fail_next(times, status)`` scripts
failures; every request is recorded in ``requests``.

Webhooks: ``text_message`` & co. build ``messages[]`` items, ``status_event`` builds
``statuses[]`` items, ``change_value`` wraps them with metadata and contacts, ``webhook_payload``
makes the whole body (several changes, or several entries); ``sign`` computes
``X-Hub-Signature-256`` and ``deliver`` POSTs a signed body to a URL as Meta does.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from .base import LocalHTTPFake, RecordedRequest, _Failure

VERSION = "v21.0"
ACCESS_TOKEN = "EAAGfake-system-user-token"
APP_SECRET = "f4k3-app-secret-0123456789abcdef"
VERIFY_TOKEN = "verify-me-please"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_PHONE_NUMBER = "+55 11 4000-1234"
WABA_ID = "102290129340398"
CUSTOMER_WA_ID = "5511987654321"

_counter = itertools.count(1)


def wamid() -> str:
    """An id shaped like Meta's (base64 of an opaque value prefixed with "wamid.")."""
    raw = f"\x15\x02\x00\x11\x18\x12{secrets.token_hex(9).upper()}\x00".encode()
    return "wamid.HBgN" + base64.b64encode(raw).decode()


def graph_error(message: str, *, code: int, type_: str = "OAuthException", subcode: int | None = None,
                details: str = "") -> dict:
    error = {"message": message, "type": type_, "code": code, "fbtrace_id": "A" + secrets.token_urlsafe(16)}
    if subcode is not None:
        error["error_subcode"] = subcode
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return {"error": error}




def approved_template(name: str, body: str, *, language: str = "pt_BR", category: str = "UTILITY",
                      status: str = "APPROVED") -> dict:
    """A message_templates item as Graph lists it."""
    return {"name": name, "language": language, "status": status, "category": category,
            "id": str(next(_counter) + 900000000000000),
            "components": [{"type": "BODY", "text": body}]}


@dataclass
class FakeGraphApi(LocalHTTPFake):
    access_token: str = ACCESS_TOKEN
    phone_number_id: str = PHONE_NUMBER_ID
    display_phone_number: str = DISPLAY_PHONE_NUMBER
    verified_name: str = "Alpha Frios"
    waba_id: str = WABA_ID
    version: str = VERSION
    page_size: int = 2
    templates: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    sent: list = field(default_factory=list)  # JSON bodies accepted by /messages
    uploads: dict = field(default_factory=dict)  # media id -> (bytes, mime, filename)

    def __post_init__(self):
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- scripting -----------------------------------------------------------------------
    def fail_next(self, times: int = 1, *, status: int = 500, body: dict | None = None, delay: float = 0.0) -> None:
        """The next ``times`` calls answer ``status`` with a Graph error (after ``delay`` seconds)."""
        if body is None:
            body = (graph_error("(#130429) Rate limit hit", code=130429, details="Cloud API message throughput "
                                "has been reached.") if status == 429 else
                    graph_error("An unexpected error has occurred. Please retry your request later.", code=2,
                                type_="OAuthException"))
        with self._lock:
            self._failures += [_Failure(status, body, delay) for _ in range(times)]

    def reset(self) -> None:
        """Forget recorded requests, sent messages, templates and scripted failures."""
        with self._lock:
            self.requests.clear()
            self.sent.clear()
            self.templates.clear()
            self._failures.clear()

    def add_media(self, content: bytes, mime: str, filename: str = "") -> str:
        media_id = str(next(_counter) + 1000000000000000)
        self.uploads[media_id] = (content, mime, filename)
        return media_id

    def calls(self, method: str, path_contains: str = "") -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and path_contains in r.path]

    # --- HTTP ----------------------------------------------------------------------------
    def _reply(self, handler, status: int, body, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a scripted timeout): nothing to answer

    def _dispatch(self, handler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        record = RecordedRequest(handler.command, parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()},
                                 {k.lower(): v for k, v in handler.headers.items()}, body)
        with self._lock:
            self.requests.append(record)
            failure = self._failures.pop(0) if self._failures else None
        if failure:
            if failure.delay:
                time.sleep(failure.delay)
            return self._reply(handler, failure.status, failure.body)
        if handler.headers.get("Authorization", "") != f"Bearer {self.access_token}":
            return self._reply(handler, 401, graph_error(
                "Error validating access token: Session has expired or the token is invalid.", code=190,
                subcode=463))
        try:
            status, answer, content_type = self._route(record)
        except _GraphFailure as exc:
            status, answer, content_type = exc.status, exc.body, "application/json"
        self._reply(handler, status, answer, content_type)

    def _route(self, req: RecordedRequest):
        segments = [s for s in req.path.split("/") if s]
        if req.method == "GET" and req.path.rstrip("/") == "/whatsapp_business/attachments":
            item = self.uploads.get(req.query.get("mid", ""))
            if item is None:
                raise _GraphFailure(404, graph_error("Media not found", code=100, subcode=33))
            return 200, item[0], item[1]
        if not segments or segments[0] != self.version:
            raise _GraphFailure(400, graph_error(f"Unknown path components: {req.path}", code=2500))
        rest = segments[1:]
        if req.method == "POST" and rest == [self.phone_number_id, "messages"]:
            return (200, self._send(req.json or {}), "application/json")
        if req.method == "POST" and rest == [self.phone_number_id, "media"]:
            return 200, self._upload(req), "application/json"
        if req.method == "GET" and rest == [self.phone_number_id]:
            fields = (req.query.get("fields") or "display_phone_number,verified_name").split(",")
            info = {"display_phone_number": self.display_phone_number, "verified_name": self.verified_name,
                    "quality_rating": "GREEN", "code_verification_status": "VERIFIED"}
            return 200, {**{k: info[k] for k in fields if k in info}, "id": self.phone_number_id}, "application/json"
        if req.method == "GET" and rest == [self.waba_id, "message_templates"]:
            return 200, self._templates(req), "application/json"
        if req.method == "GET" and len(rest) == 1 and rest[0] in self.uploads:
            content, mime, _ = self.uploads[rest[0]]
            return 200, {"messaging_product": "whatsapp", "id": rest[0], "mime_type": mime,
                         "sha256": hashlib.sha256(content).hexdigest(), "file_size": len(content),
                         "url": f"{self.url}/whatsapp_business/attachments/?mid={rest[0]}&ext=1&hash=AT"}, \
                "application/json"
        raise _GraphFailure(400, graph_error(
            f"Unsupported {req.method.lower()} request. Object with ID '{rest[0] if rest else ''}' does not exist, "
            "cannot be loaded due to missing permissions, or does not support this operation.",
            code=100, subcode=33, type_="GraphMethodException"))

    def _invalid(self, details: str) -> "_GraphFailure":
        return _GraphFailure(400, graph_error("(#100) Invalid parameter", code=100, details=details))

    def _send(self, body: dict) -> dict:
        if body.get("messaging_product") != "whatsapp":
            raise self._invalid("The parameter messaging_product is required.")
        to = str(body.get("to") or "")
        if not re.fullmatch(r"\d{8,15}", to):
            raise _GraphFailure(400, graph_error("(#131009) Parameter value is not valid", code=131009,
                                                 details="Recipient phone number is not a valid WhatsApp number"))
        kind = body.get("type", "text")
        if not isinstance(body.get(kind), dict):
            raise self._invalid(f"Param {kind} is required for messages of type {kind}")
        content = body[kind]
        if kind == "text" and not content.get("body"):
            raise self._invalid("Param text['body'] is required.")
        if kind in ("image", "audio", "video", "document", "sticker"):
            if not content.get("link") and content.get("id") not in self.uploads:
                raise self._invalid(f"Param {kind}['id'] is not a valid media id")
        if kind == "interactive":
            buttons = (content.get("action") or {}).get("buttons") or []
            if len(buttons) > 3:
                raise self._invalid("Param interactive['action']['buttons'] must have at most 3 elements.")
            for button in buttons:
                if len(button["reply"]["title"]) > 20:
                    raise self._invalid("Button title length invalid. Should be non-empty and at most 20 characters")
        if kind == "template":
            self._check_template(content)
        with self._lock:
            self.sent.append(body)
        return {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": wamid(), **({"message_status": "accepted"} if kind == "template" else {})}]}

    def _check_template(self, content: dict) -> None:
        language = (content.get("language") or {}).get("code")
        found = next((t for t in self.templates if t["name"] == content.get("name") and t["language"] == language
                      and t["status"] == "APPROVED"), None)
        if found is None:
            raise _GraphFailure(404, graph_error(
                "(#132001) Template name does not exist in the translation", code=132001,
                details=f"template name ({content.get('name')}) does not exist in {language}"))
        body = next((c.get("text", "") for c in found["components"] if c.get("type") == "BODY"), "")
        expected = len(set(re.findall(r"\{\{\s*(\d+)\s*\}\}", body)))
        given = sum(len(c.get("parameters") or []) for c in content.get("components") or []
                    if c.get("type") == "body")
        if expected != given:
            raise _GraphFailure(400, graph_error(
                "(#132000) Number of parameters does not match the expected number of params", code=132000,
                details=f"body: number of localizable_params ({given}) does not match the expected number "
                        f"of params ({expected})"))

    def _upload(self, req: RecordedRequest) -> dict:
        content_type = req.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            raise self._invalid("Upload must be multipart/form-data")
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + req.body)
        fields, file_part = {}, None
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename():
                file_part = part
            else:
                fields[name] = part.get_content().strip()
        if fields.get("messaging_product") != "whatsapp" or file_part is None:
            raise self._invalid("Param file and messaging_product are required")
        media_id = self.add_media(file_part.get_payload(decode=True), fields.get("type") or
                                  file_part.get_content_type(), file_part.get_filename())
        return {"id": media_id}

    def _templates(self, req: RecordedRequest) -> dict:
        limit = min(int(req.query.get("limit") or 25), self.page_size)
        start = int(base64.b64decode(req.query["after"]).decode()) if req.query.get("after") else 0
        page = self.templates[start:start + limit]
        answer = {"data": page, "paging": {"cursors": {
            "before": base64.b64encode(str(start).encode()).decode(),
            "after": base64.b64encode(str(start + len(page)).encode()).decode()}}}
        if start + limit < len(self.templates):
            query = {k: v for k, v in req.query.items() if k != "after"}
            query["after"] = answer["paging"]["cursors"]["after"]
            answer["paging"]["next"] = f"{self.url}{req.path}?{urlencode(query)}"
        return answer

    # --- webhooks ------------------------------------------------------------------------
    def send_webhook(self, url: str, payload, app_secret: str = APP_SECRET, **kwargs):
        """POST a signed webhook to ``url`` like Meta does; returns (status, body)."""
        return deliver(url, payload, app_secret, **kwargs)


class _GraphFailure(Exception):
    def __init__(self, status: int, body: dict):
        super().__init__(body["error"]["message"])
        self.status = status
        self.body = body


# --- webhook payload builders ---------------------------------------------------------------

def _message(kind: str, content: dict | None, *, wa_id: str, id: str | None, timestamp: int | None,
             context: dict | None = None) -> dict:
    message = {"from": wa_id, "id": id or wamid(), "timestamp": str(timestamp or int(time.time())), "type": kind}
    if content is not None:
        message[kind] = content
    if context:
        message["context"] = context
    return message


def text_message(body: str, *, wa_id: str = CUSTOMER_WA_ID, id: str | None = None, timestamp: int | None = None):
    return _message("text", {"body": body}, wa_id=wa_id, id=id, timestamp=timestamp)


def media_message(kind: str, *, media_id: str, mime_type: str, caption: str = "", filename: str = "",
                  wa_id: str = CUSTOMER_WA_ID, id: str | None = None, timestamp: int | None = None):
    content = {"mime_type": mime_type, "sha256": hashlib.sha256(media_id.encode()).hexdigest(), "id": media_id}
    if caption:
        content["caption"] = caption
    if filename:
        content["filename"] = filename
    if kind == "audio":
        content["voice"] = True
    return _message(kind, content, wa_id=wa_id, id=id, timestamp=timestamp)


def location_message(latitude: float, longitude: float, *, name: str = "", address: str = "",
                     wa_id: str = CUSTOMER_WA_ID, id: str | None = None, timestamp: int | None = None):
    content = {"latitude": latitude, "longitude": longitude}
    if name:
        content["name"] = name
    if address:
        content["address"] = address
    return _message("location", content, wa_id=wa_id, id=id, timestamp=timestamp)


def button_reply(reply_id: str, title: str, *, wa_id: str = CUSTOMER_WA_ID, id: str | None = None,
                 timestamp: int | None = None, context_id: str | None = None):
    return _message("interactive", {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}},
                    wa_id=wa_id, id=id, timestamp=timestamp,
                    context={"from": PHONE_NUMBER_ID, "id": context_id or wamid()})


def list_reply(reply_id: str, title: str, *, description: str = "", wa_id: str = CUSTOMER_WA_ID,
               id: str | None = None, timestamp: int | None = None):
    reply = {"id": reply_id, "title": title, **({"description": description} if description else {})}
    return _message("interactive", {"type": "list_reply", "list_reply": reply}, wa_id=wa_id, id=id,
                    timestamp=timestamp, context={"from": PHONE_NUMBER_ID, "id": wamid()})


def template_button(payload: str, text: str, *, wa_id: str = CUSTOMER_WA_ID, id: str | None = None):
    return _message("button", {"payload": payload, "text": text}, wa_id=wa_id, id=id, timestamp=None,
                    context={"from": PHONE_NUMBER_ID, "id": wamid()})


def reaction_message(message_id: str, emoji: str, *, wa_id: str = CUSTOMER_WA_ID, id: str | None = None):
    return _message("reaction", {"message_id": message_id, "emoji": emoji}, wa_id=wa_id, id=id, timestamp=None)


def unsupported_message(*, wa_id: str = CUSTOMER_WA_ID, id: str | None = None):
    message = _message("unsupported", None, wa_id=wa_id, id=id, timestamp=None)
    message["errors"] = [{"code": 131051, "title": "Message type unknown", "message": "Message type unknown",
                          "error_data": {"details": "Message type is currently not supported."}}]
    return message


def status_event(message_id: str, status: str, *, recipient: str = CUSTOMER_WA_ID, timestamp: int | None = None,
                 error: tuple[int, str, str] | None = None, callback_data: str = "") -> dict:
    """A statuses[] item; ``error`` = (code, title, details) for failed."""
    item = {"id": message_id, "status": status, "timestamp": str(timestamp or int(time.time())),
            "recipient_id": recipient}
    if callback_data:
        item["biz_opaque_callback_data"] = callback_data
    if status in ("sent", "delivered"):
        item["conversation"] = {"id": secrets.token_hex(16), "origin": {"type": "service"}}
        item["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "service", "type": "regular"}
    if error:
        code, title, details = error
        item["errors"] = [{"code": code, "title": title, "message": title, "error_data": {"details": details},
                           "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}]
    return item


def change_value(*, messages=(), statuses=(), names: dict | None = None, user_ids: dict | None = None,
                 phone_number_id: str = PHONE_NUMBER_ID, display_phone_number: str = "551140001234") -> dict:
    """A change's ``value``: metadata, a contacts[] entry per sender (profile name from ``names``,
    business-scoped ``user_id`` from ``user_ids``), messages[] and statuses[]."""
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id}}
    if messages:
        names = names or {}
        contacts = []
        for wa_id in dict.fromkeys(m["from"] for m in messages):
            contact = {"profile": {"name": names.get(wa_id, "Maria Souza")}, "wa_id": wa_id}
            if user_ids and wa_id in user_ids:
                contact["user_id"] = user_ids[wa_id]
            contacts.append(contact)
        value["contacts"] = contacts
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return value


def webhook_payload(*values: dict, entries: list[list[dict]] | None = None, waba_id: str = WABA_ID) -> dict:
    """The POST body: one entry with a change per value, or ``entries`` = [[value, ...], ...]."""
    groups = entries if entries is not None else [list(values)]
    return {"object": "whatsapp_business_account",
            "entry": [{"id": waba_id, "changes": [{"value": v, "field": "messages"} for v in group]}
                      for group in groups]}


def body_of(payload) -> bytes:
    """The exact bytes Meta would send (compact JSON, non-ASCII escaped as Meta does)."""
    return payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()


def sign(body: bytes, app_secret: str = APP_SECRET) -> str:
    """The X-Hub-Signature-256 header value for ``body``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(url: str, payload, app_secret: str = APP_SECRET, *, host: str | None = None,
            timeout: float = 10.0) -> tuple[int, bytes]:
    """POST ``payload`` (dict or bytes) to ``url`` with Meta's headers; returns (status, body)."""
    body = body_of(payload)
    headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua",
               "X-Hub-Signature-256": sign(body, app_secret),
               "X-Hub-Signature": "sha1=" + hmac.new(app_secret.encode(), body, hashlib.sha1).hexdigest()}
    if host:
        headers["Host"] = host
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
