"""A fake Evolution API v2 server on 127.0.0.1 for tests: the endpoints our provider calls, answered
the way Evolution answers them, and the webhooks Evolution posts, shaped as it shapes them.

    with FakeEvolution() as evo:                      # free port, background thread
        settings.EVOLUTION_API_URL = evo.url          # or Connection.config["base_url"]
        settings.EVOLUTION_API_KEY = evo.api_key
        ... provider.create(conn, webhook_url=...)    # POST /instance/create -> QR, webhooks
        evo.scan_qr(conn.instance_name, phone="5511988887777")    # connection.update "open"
        evo.customer_message(conn.instance_name, phone="5511987654321", text="Oi")
        evo.fail_next(2, status=500, path="/message/sendText")    # next two sends answer 500
        evo.hang_next(1, seconds=2, path="/message/sendText")     # sent, but the answer comes late
        evo.calls("/message/sendText")                # requests received (method, path, headers, json)
        evo.sent                                      # messages sent through the API (records)

Webhooks go to the URL (and custom headers) the instance was created with, from one background
thread, in order, retried like Evolution does (non-retryable: 400, 401, 403, 404, 422). Every one is
kept in ``evo.webhooks`` (``wait_webhooks`` polls). With ``deliver_webhooks=False`` nothing is posted:
tests on the Django test client call ``evo.deliver_with(client)`` instead.

``Payloads`` builds the same bodies without a server, for tests that post them directly:
``Payloads.upsert("alpha-1", Payloads.message_record(phone="5511987654321", text="Oi"))``.
"""
from __future__ import annotations

import base64
import hashlib
import json
import queue
import secrets
import struct
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

DEFAULT_API_KEY = "fake-evolution-global-key"
EVOLUTION_VERSION = "2.3.7"
NON_RETRYABLE = {400, 401, 403, 404, 422}


def _now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _message_id() -> str:
    return "3EB0" + secrets.token_hex(9).upper()


def event_name(constant: str) -> str:
    """"MESSAGES_UPSERT" -> "messages.upsert" (how the body's ``event`` names it)."""
    return constant.lower().replace("_", ".")


def qr_code_string() -> str:
    """A pairing string shaped like Baileys' ("2@<ref>,<noise key>,<identity key>,<adv secret>")."""
    def b64(n):
        return base64.b64encode(secrets.token_bytes(n)).decode()
    return f"2@{b64(45)},{b64(32)},{b64(32)},{b64(32)}"


def qr_png_data_uri(code: str) -> str:
    """A small grayscale PNG whose pattern depends on ``code`` (a new code looks different)."""
    cells, scale = 25, 4
    bits = hashlib.shake_256(code.encode()).digest((cells * cells + 7) // 8)
    side = cells * scale
    rows = []
    for y in range(side):
        row = bytearray([0])
        for x in range(side):
            cell = (y // scale) * cells + x // scale
            row.append(0 if (bits[cell // 8] >> (cell % 8)) & 1 else 255)
        rows.append(bytes(row))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(png).decode()


def create_jid(number: str) -> str:
    """Evolution's createJid plus its onWhatsApp check: group/LID JIDs pass through; digits (or a
    phone JID) become the JID WhatsApp registered: Brazilian mobiles outside area codes 11-30 lose
    the extra 9th digit (formatBRNumber)."""
    if "@" in number and not number.endswith("@s.whatsapp.net"):
        return number
    digits = "".join(ch for ch in number.split("@")[0].split(":")[0] if ch.isdigit())
    if len(digits) == 13 and digits.startswith("55"):
        ddd, joker = int(digits[2:4]), int(digits[4])
        if joker >= 7 and ddd >= 31:
            digits = digits[:4] + digits[5:]
    return f"{digits}@s.whatsapp.net"


# --------------------------------------------------------------------------------------------
# Payload builders (no server needed)
# --------------------------------------------------------------------------------------------
class Payloads:
    """Bodies exactly as Evolution API v2 posts them (``event``, ``instance``, ``data``,
    ``destination``, ``date_time``, ``sender``, ``server_url``, ``apikey``)."""

    @staticmethod
    def envelope(event: str, instance: str, data: Any, *, destination: str = "http://127.0.0.1/hook",
                 date_time: str | None = None, sender: str | None = "5511900000000@s.whatsapp.net",
                 server_url: str = "http://127.0.0.1:8080", apikey: str = "INSTANCE-TOKEN") -> dict:
        if "_" in event or event.isupper():
            event = event_name(event)
        return {"event": event, "instance": instance, "data": data, "destination": destination,
                "date_time": date_time or _now_iso(), "sender": sender, "server_url": server_url,
                "apikey": apikey}

    # message bodies (the ``message`` object of a record) ----------------------------------
    @staticmethod
    def text(text: str) -> dict:
        return {"conversation": text, "messageContextInfo": {"deviceListMetadataVersion": 2}}

    @staticmethod
    def extended_text(text: str) -> dict:
        return {"extendedTextMessage": {"text": text, "previewType": "NONE", "inviteLinkGroupTypeV2": "DEFAULT"}}

    @staticmethod
    def _media(kind: str, mimetype: str, *, caption: str = "", size: int = 0, **extra) -> dict:
        part = {"url": f"https://mmg.whatsapp.net/v/t62.7118-24/{secrets.token_hex(8)}.enc?ccb=11-4",
                "mimetype": mimetype, "fileSha256": base64.b64encode(secrets.token_bytes(32)).decode(),
                "fileLength": str(size), "mediaKey": base64.b64encode(secrets.token_bytes(32)).decode(),
                "directPath": f"/v/t62.7118-24/{secrets.token_hex(8)}.enc", "mediaKeyTimestamp": str(int(time.time()))}
        if caption:
            part["caption"] = caption
        part.update(extra)
        return {kind: part}

    @classmethod
    def image(cls, caption: str = "", mimetype: str = "image/jpeg", size: int = 48213) -> dict:
        return cls._media("imageMessage", mimetype, caption=caption, size=size, height=1280, width=960)

    @classmethod
    def video(cls, caption: str = "", mimetype: str = "video/mp4", size: int = 812345) -> dict:
        return cls._media("videoMessage", mimetype, caption=caption, size=size, seconds=7)

    @classmethod
    def audio(cls, seconds: int = 4, ptt: bool = True, size: int = 9123) -> dict:
        return cls._media("audioMessage", "audio/ogg; codecs=opus", size=size, seconds=seconds, ptt=ptt)

    @classmethod
    def document(cls, file_name: str = "pedido.pdf", mimetype: str = "application/pdf", caption: str = "",
                 size: int = 23456) -> dict:
        body = cls._media("documentMessage", mimetype, size=size, fileName=file_name, title=file_name,
                          caption=caption)
        if caption:  # WhatsApp wraps captioned documents
            return {"documentWithCaptionMessage": {"message": body}}
        return body

    @classmethod
    def sticker(cls) -> dict:
        return cls._media("stickerMessage", "image/webp", size=12000, isAnimated=False)

    @staticmethod
    def location(latitude: float, longitude: float, name: str = "", address: str = "") -> dict:
        return {"locationMessage": {"degreesLatitude": latitude, "degreesLongitude": longitude,
                                    "name": name, "address": address}}

    @staticmethod
    def button_reply(title: str, button_id: str) -> dict:
        return {"buttonsResponseMessage": {"selectedButtonId": button_id, "selectedDisplayText": title,
                                           "type": "DISPLAY_TEXT"}}

    @staticmethod
    def list_reply(title: str, row_id: str) -> dict:
        return {"listResponseMessage": {"title": title, "listType": "SINGLE_SELECT",
                                        "singleSelectReply": {"selectedRowId": row_id}}}

    @staticmethod
    def reaction(target_id: str, emoji: str, target_remote_jid: str = "") -> dict:
        return {"reactionMessage": {"key": {"remoteJid": target_remote_jid, "fromMe": True, "id": target_id},
                                    "text": emoji, "senderTimestampMs": str(int(time.time() * 1000))}}

    # records --------------------------------------------------------------------------------
    @staticmethod
    def message_record(*, phone: str = "5511987654321", text: str | None = "Oi", message: dict | None = None,
                       message_id: str | None = None, lid: str | None = None, remote_jid: str | None = None,
                       from_me: bool = False, push_name: str = "Cliente", timestamp: int | None = None,
                       participant: str | None = None, instance_id: str = "", status: str | None = None,
                       base64_media: str | None = None) -> dict:
        """One message as ``messages.upsert`` / ``send.message`` carry it. With ``lid`` the chat is
        addressed by LID and the phone JID travels in ``remoteJidAlt`` (``addressingMode`` "lid")."""
        phone_jid = create_jid(phone) if phone else ""
        key: dict = {"remoteJid": remote_jid or phone_jid, "fromMe": from_me, "id": message_id or _message_id()}
        if lid and not remote_jid:
            key.update(remoteJid=lid, remoteJidAlt=phone_jid, addressingMode="lid")
        if participant:
            key["participant"] = participant
        body = dict(message) if message is not None else Payloads.text(text or "")
        if base64_media:
            body["base64"] = base64_media
        message_type = next((k for k in body if k not in ("messageContextInfo", "base64")), "conversation")
        return {"key": key, "pushName": "" if from_me else push_name,
                "status": status or ("PENDING" if from_me else "DELIVERY_ACK"), "message": body,
                "contextInfo": None, "messageType": message_type,
                "messageTimestamp": int(timestamp if timestamp is not None else time.time()),
                "instanceId": instance_id or str(uuid.uuid4()), "source": "android" if not from_me else "web"}

    # whole webhook bodies ---------------------------------------------------------------------
    @classmethod
    def upsert(cls, instance: str, record: dict | None = None, **envelope) -> dict:
        return cls.envelope("messages.upsert", instance, record or cls.message_record(), **envelope)

    @classmethod
    def send_message(cls, instance: str, record: dict, **envelope) -> dict:
        return cls.envelope("send.message", instance, record, **envelope)

    @classmethod
    def update(cls, instance: str, message_id: str, status: str = "DELIVERY_ACK", *, remote_jid: str =
               "5511987654321@s.whatsapp.net", from_me: bool = True, instance_id: str = "", **envelope) -> dict:
        data = {"messageId": f"cm{secrets.token_hex(11)}", "keyId": message_id, "remoteJid": remote_jid,
                "fromMe": from_me, "participant": None, "status": status, "instanceId": instance_id or str(uuid.uuid4())}
        return cls.envelope("messages.update", instance, data, **envelope)

    @classmethod
    def connection(cls, instance: str, state: str, status_reason: int = 200, *, wuid: str | None = None,
                   profile_name: str = "Loja", **envelope) -> dict:
        data: dict = {"instance": instance, "state": state, "statusReason": status_reason}
        if state in ("open", "refused"):
            data.update(wuid=wuid, profileName=profile_name, profilePictureUrl=None)
        return cls.envelope("connection.update", instance, data, **envelope)

    @classmethod
    def qrcode(cls, instance: str, code: str | None = None, *, pairing_code: str | None = None, **envelope) -> dict:
        code = code or qr_code_string()
        data = {"qrcode": {"instance": instance, "pairingCode": pairing_code, "code": code,
                           "base64": qr_png_data_uri(code)}}
        return cls.envelope("qrcode.updated", instance, data, **envelope)

    @classmethod
    def qrcode_limit(cls, instance: str, **envelope) -> dict:
        return cls.envelope("qrcode.updated", instance,
                            {"message": "QR code limit reached, please login again", "statusCode": 500}, **envelope)


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------
@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    json: Any
    status: int = 0  # what the fake answered

    @property
    def instance(self) -> str:
        parts = self.path.split("?")[0].strip("/").split("/")
        return urllib.parse.unquote(parts[2]) if len(parts) > 2 else ""


@dataclass
class Webhook:
    event: str
    url: str
    headers: dict
    body: dict
    raw: bytes
    attempts: int = 0
    status: int | None = None  # last HTTP status from the receiver
    delivered: bool = False
    error: str = ""


@dataclass
class Instance:
    name: str
    token: str
    instance_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    integration: str = "WHATSAPP-BAILEYS"
    state: str = "close"
    status_reason: int = 200
    qr: dict = field(default_factory=dict)
    qr_count: int = 0
    webhook: dict = field(default_factory=dict)
    owner_jid: str | None = None
    profile_name: str = "Loja"
    messages: list = field(default_factory=list)  # records Evolution keeps (inbound and sent)
    media: dict = field(default_factory=dict)  # message id -> (bytes, mimetype, file name)


@dataclass
class _Rule:
    remaining: int
    path: str
    method: str | None
    status: int | None = None
    body: Any = None
    hang: float = 0.0
    apply: bool = False


class FakeEvolution:
    def __init__(self, *, api_key: str = DEFAULT_API_KEY, deliver_webhooks: bool = True,
                 webhook_retries: int = 10, retry_delay: float = 0.05, qr_limit: int = 30,
                 auto_ack: bool = False, webhook_timeout: float = 10.0):
        self.api_key = api_key
        self.deliver_webhooks = deliver_webhooks
        self.webhook_retries = webhook_retries
        self.retry_delay = retry_delay
        self.webhook_timeout = webhook_timeout
        self.qr_limit = qr_limit
        self.auto_ack = auto_ack  # post SERVER_ACK + DELIVERY_ACK after every send
        self.instances: dict[str, Instance] = {}
        self.requests: list[Recorded] = []
        self.webhooks: list[Webhook] = []
        self.sent: list[dict] = []  # records of messages sent through the API, in order
        self.unknown_numbers: set[str] = set()  # digits answered with {"exists": false}
        self.qr_codes: list[str] = []  # next QR strings to hand out (random ones after)
        self._rules: list[_Rule] = []
        self._lock = threading.RLock()
        self._queue: "queue.Queue[Webhook | None]" = queue.Queue()
        self._pending: list[Webhook] = []
        self._last_stamp = ""
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> "FakeEvolution":
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        serve = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                 name="fake-evolution", daemon=True)
        deliver = threading.Thread(target=self._deliver_loop, name="fake-evolution-webhooks", daemon=True)
        serve.start()
        deliver.start()
        self._threads = [serve, deliver]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def __enter__(self) -> "FakeEvolution":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- inspection ----------------------------------------------------------------------
    def calls(self, path: str = "", method: str | None = None) -> list[Recorded]:
        """Requests received whose path contains ``path`` (and with ``method``), in order."""
        with self._lock:
            return [r for r in self.requests if path in r.path and (method is None or r.method == method)]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.webhooks.clear()
            self.sent.clear()

    def instance(self, name: str) -> Instance:
        return self.instances[name]

    def wait_webhooks(self, count: int = 1, *, event: str | None = None, delivered: bool | None = None,
                      timeout: float = 5.0) -> list[Webhook]:
        """Poll until at least ``count`` webhooks (of ``event``; delivered or not) exist."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = [w for w in self.webhooks if (event is None or w.event == event)
                         and (delivered is None or w.delivered == delivered
                              or (delivered is False and w.status is not None and not w.delivered))]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.01)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every queued webhook has been posted (or given up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    # --- scripting -----------------------------------------------------------------------
    def fail_next(self, n: int = 1, *, status: int = 500, path: str = "", method: str | None = None,
                  body: Any = None, apply: bool = False) -> None:
        """The next ``n`` requests whose path contains ``path`` answer ``status`` (Evolution's error
        body unless ``body``). ``apply=True``: the request takes effect first (the message IS sent,
        its echo posted) and only the answer is the failure."""
        with self._lock:
            self._rules.append(_Rule(n, path, method, status=status, body=body, apply=apply))

    def hang_next(self, n: int = 1, *, seconds: float, path: str = "", method: str | None = None,
                  apply: bool = True) -> None:
        """The next ``n`` matching requests answer only after ``seconds`` (client timeouts). With
        ``apply`` (default) the request takes effect at once, as a send whose answer was lost;
        otherwise nothing happens and the late answer is a 503."""
        with self._lock:
            self._rules.append(_Rule(n, path, method, hang=seconds, apply=apply,
                                     status=None if apply else 503))

    def add_instance(self, name: str, *, token: str | None = None, state: str = "close",
                     webhook_url: str = "", webhook_headers: dict | None = None, events: list | None = None,
                     owner_phone: str | None = None, base64: bool = False) -> Instance:
        """An instance that already exists on the server (created earlier, outside the test)."""
        inst = Instance(name=name, token=token or str(uuid.uuid4()).upper(), state=state)
        inst.webhook = {"enabled": bool(webhook_url), "url": webhook_url, "headers": webhook_headers or {},
                        "byEvents": False, "base64": base64,
                        "events": events or ["MESSAGES_UPSERT", "MESSAGES_UPDATE", "SEND_MESSAGE",
                                             "CONNECTION_UPDATE", "QRCODE_UPDATED"]}
        if owner_phone:
            inst.owner_jid = create_jid(owner_phone)
        with self._lock:
            self.instances[name] = inst
        return inst

    def next_qr(self, name: str) -> dict | None:
        """Baileys rotates the QR code (about every 20-60 s): hand out the next one and post
        ``qrcode.updated``; past the limit, post the "refused" sequence and close. Returns the
        instance's QR dict (or None when refused)."""
        with self._lock:
            inst = self.instances[name]
            if inst.qr_count >= self.qr_limit:
                inst.state, inst.status_reason, inst.qr = "close", 428, {}
                self._emit(inst, "QRCODE_UPDATED", {"message": "QR code limit reached, please login again",
                                                    "statusCode": 500})
                self._emit(inst, "CONNECTION_UPDATE", {"instance": name, "state": "refused", "statusReason": 428,
                                                       "wuid": inst.owner_jid, "profileName": inst.profile_name,
                                                       "profilePictureUrl": None})
                return None
            code = self.qr_codes.pop(0) if self.qr_codes else qr_code_string()
            inst.qr_count += 1
            inst.qr = {"pairingCode": None, "code": code, "base64": qr_png_data_uri(code), "count": inst.qr_count}
            self._emit(inst, "QRCODE_UPDATED", {"qrcode": {"instance": name, "pairingCode": None, "code": code,
                                                           "base64": inst.qr["base64"]}})
            return dict(inst.qr)

    def refuse(self, name: str) -> None:
        """Reach the QR limit now (the customer never scanned): ``refused``, then closed."""
        with self._lock:
            self.instances[name].qr_count = self.qr_limit
        self.next_qr(name)

    def scan_qr(self, name: str, phone: str = "5511988887777", profile_name: str = "Loja") -> None:
        """The customer scanned the code: the instance opens and posts ``connection.update``."""
        with self._lock:
            inst = self.instances[name]
            inst.state, inst.status_reason, inst.qr, inst.qr_count = "open", 200, {}, 0
            inst.owner_jid, inst.profile_name = create_jid(phone), profile_name
            self._emit(inst, "CONNECTION_UPDATE", {"instance": name, "wuid": inst.owner_jid,
                                                   "profileName": profile_name, "profilePictureUrl": None,
                                                   "state": "open", "statusReason": 200})

    def close(self, name: str, status_reason: int = 428) -> None:
        """The WhatsApp session closed with ``status_reason`` (401 logged out on the phone, 403
        banned, 440 replaced, 428 connection lost...)."""
        with self._lock:
            inst = self.instances[name]
            inst.state, inst.status_reason = "close", status_reason
            self._emit(inst, "CONNECTION_UPDATE", {"instance": name, "state": "close",
                                                   "statusReason": status_reason})

    def set_state(self, name: str, state: str, *, status_reason: int = 200, notify: bool = False) -> None:
        with self._lock:
            inst = self.instances[name]
            inst.state, inst.status_reason = state, status_reason
            if notify:
                self._emit(inst, "CONNECTION_UPDATE", {"instance": name, "state": state, "statusReason": status_reason})

    # --- traffic from WhatsApp -----------------------------------------------------------
    def customer_message(self, name: str, *, phone: str = "5511987654321", text: str | None = "Oi",
                         message: dict | None = None, push_name: str = "Cliente", lid: str | None = None,
                         remote_jid: str | None = None, message_id: str | None = None,
                         media: bytes | None = None, timestamp: int | None = None, from_me: bool = False) -> dict:
        """A message arrives on the number (``from_me=True``: typed on the phone itself). Evolution
        keeps it and posts ``messages.upsert``; returns the record. ``media``: the file's bytes
        (served later by getBase64FromMediaMessage, inline in the webhook when base64 is on)."""
        with self._lock:
            inst = self.instances[name]
            inline = base64.b64encode(media).decode() if (media is not None and inst.webhook.get("base64")) else None
            record = Payloads.message_record(phone=phone, text=text, message=message, push_name=push_name, lid=lid,
                                             remote_jid=remote_jid, message_id=message_id, timestamp=timestamp,
                                             from_me=from_me, instance_id=inst.instance_id, base64_media=inline)
            stored = json.loads(json.dumps(record))
            stored["message"].pop("base64", None)
            inst.messages.append(stored)
            if media is not None:
                part = next((v for v in stored["message"].values() if isinstance(v, dict) and "mimetype" in v), {})
                inst.media[record["key"]["id"]] = (media, part.get("mimetype", "application/octet-stream"),
                                                   part.get("fileName") or "")
            self._emit(inst, "MESSAGES_UPSERT", record)
            return record

    def phone_message(self, name: str, *, to: str, text: str) -> dict:
        """Staff typed a message on the phone itself (not through the API)."""
        record = self.customer_message(name, phone=to, text=text, from_me=True)
        return record

    def ack(self, name: str, message_id: str, status: str = "DELIVERY_ACK") -> None:
        """The recipient's phone acknowledged a message we sent: SERVER_ACK, DELIVERY_ACK, READ, PLAYED
        (or ERROR)."""
        with self._lock:
            inst = self.instances[name]
            record = next((m for m in inst.messages if m["key"]["id"] == message_id), None)
            remote = record["key"]["remoteJid"] if record else "5511987654321@s.whatsapp.net"
            if record:
                record["status"] = status
            self._emit(inst, "MESSAGES_UPDATE", {
                "messageId": f"cm{secrets.token_hex(11)}", "keyId": message_id, "remoteJid": remote,
                "fromMe": True, "participant": None, "status": status, "instanceId": inst.instance_id})

    # --- webhooks ------------------------------------------------------------------------
    def _stamp(self) -> str:
        stamp = _now_iso()
        while stamp <= self._last_stamp:  # unique, increasing (ms precision like Evolution)
            time.sleep(0.001)
            stamp = _now_iso()
        self._last_stamp = stamp
        return stamp

    def _emit(self, inst: Instance, constant: str, data: Any) -> Webhook | None:
        hook_conf = inst.webhook or {}
        if not hook_conf.get("enabled") or not hook_conf.get("url") or constant not in hook_conf.get("events", []):
            return None
        event = event_name(constant)
        url = hook_conf["url"]
        if hook_conf.get("byEvents"):
            url = url.rstrip("/") + "/" + constant.lower().replace("_", "-")
        body = {"event": event, "instance": inst.name, "data": data, "destination": hook_conf["url"],
                "date_time": self._stamp(), "sender": inst.owner_jid, "server_url": self.url if self._server else "",
                "apikey": inst.token}
        headers = {**(hook_conf.get("headers") or {}), "Content-Type": "application/json",
                   "X-Instance-ID": inst.instance_id, "X-Instance-Name": inst.name, "X-Event-Type": event,
                   "X-Timestamp": str(int(time.time() * 1000)), "User-Agent": f"EvolutionAPI-Webhook/{EVOLUTION_VERSION}"}
        hook = Webhook(event=event, url=url, headers=headers, body=body, raw=json.dumps(body).encode())
        self.webhooks.append(hook)
        if self.deliver_webhooks:
            self._queue.put(hook)
        else:
            self._pending.append(hook)
        return hook

    def _deliver_loop(self) -> None:
        while True:
            hook = self._queue.get()
            if hook is None:
                self._queue.task_done()
                return
            try:
                self._post(hook)
            finally:
                self._queue.task_done()

    def _post(self, hook: Webhook) -> None:
        for attempt in range(self.webhook_retries):
            hook.attempts += 1
            request = urllib.request.Request(hook.url, data=hook.raw, method="POST", headers=hook.headers)
            try:
                with urllib.request.urlopen(request, timeout=self.webhook_timeout) as response:
                    hook.status = response.status
                hook.delivered, hook.error = True, ""
                return
            except urllib.error.HTTPError as exc:
                hook.status, hook.error = exc.code, exc.read().decode(errors="replace")[:300]
                if exc.code in NON_RETRYABLE:
                    return
            except (urllib.error.URLError, OSError) as exc:
                hook.status, hook.error = None, str(exc)
            time.sleep(min(self.retry_delay * (2 ** attempt), 1.0))

    def pending_webhooks(self) -> list[Webhook]:
        with self._lock:
            return list(self._pending)

    def deliver_with(self, client, *, event: str | None = None) -> list:
        """``deliver_webhooks=False`` mode: post the undelivered webhooks through a Django test
        ``Client`` (same path, body and headers). Returns the responses."""
        with self._lock:
            hooks = [h for h in self._pending if event is None or h.event == event]
            self._pending = [h for h in self._pending if h not in hooks]
        responses = []
        for hook in hooks:
            parts = urllib.parse.urlsplit(hook.url)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            extra = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in hook.headers.items()
                     if k.lower() != "content-type"}
            response = client.post(path, data=hook.raw, content_type="application/json", **extra)
            hook.attempts += 1
            hook.status = response.status_code
            hook.delivered = 200 <= response.status_code < 300
            responses.append(response)
        return responses

    # --- request handling (called by the HTTP handler) -----------------------------------
    def _match_rule(self, method: str, path: str) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.remaining > 0 and rule.path in path and (rule.method is None or rule.method == method):
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._rules.remove(rule)
                    return rule
        return None

    def handle(self, method: str, path: str, headers: dict, raw: bytes) -> tuple[int, Any, float]:
        """(status, JSON body, seconds to wait before answering)."""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
            record = Recorded(method, path, headers, raw.decode(errors="replace"))
            with self._lock:
                self.requests.append(record)
            record.status = 400
            return 400, _error(400, ["Unexpected token in JSON"]), 0.0
        record = Recorded(method, path, headers, body)
        with self._lock:
            self.requests.append(record)
        rule = self._match_rule(method, path)
        delay = rule.hang if rule else 0.0
        if rule and not rule.apply and rule.status is not None:
            status, answer = rule.status, rule.body if rule.body is not None else _error(rule.status, _reason(rule.status))
        else:
            status, answer, *extra = self._route(method, path, headers, body if isinstance(body, dict) else {})
            delay += extra[0] if extra else 0.0
            if rule and rule.status is not None:
                status, answer = rule.status, rule.body if rule.body is not None else _error(rule.status, _reason(rule.status))
        record.status = status
        return status, answer, delay

    def _route(self, method: str, path: str, headers: dict, body: dict) -> tuple:
        """(status, body) or (status, body, seconds to hold the answer)."""
        parts = [urllib.parse.unquote(p) for p in urllib.parse.urlsplit(path).path.strip("/").split("/") if p]
        if not parts:
            return 200, {"status": 200, "message": "Welcome to the Evolution API, it is working!",
                         "version": EVOLUTION_VERSION, "clientName": "evolution_exchange",
                         "manager": f"{self.url}/manager", "documentation": "https://doc.evolution-api.com"}
        route = "/".join(parts[:2])
        name = parts[2] if len(parts) > 2 else ""
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
        if method == "GET":
            body = {**query, **body}
        handler = _ROUTES.get((method, route))
        if handler is None:
            return 404, _error(404, [f"Cannot {method} /{'/'.join(parts)}"])
        key = headers.get("apikey", "")
        global_only = route == "instance/create"
        with self._lock:
            if route == "instance/fetchInstances":
                # the global key lists everything; an instance token only its own instance
                owned = [i for i in self.instances.values() if i.token == key]
                if key != self.api_key and not owned:
                    return 401, _error(401, "Unauthorized")
                if key != self.api_key:
                    body = {**body, "instanceName": owned[0].name}
                return handler(self, None, body)
            if not global_only:
                if not name:
                    return 400, _error(400, ['"instanceName" not provided.'])
                if name not in self.instances:
                    return 404, _error(404, [f'The "{name}" instance does not exist'])
            if not key:
                return 401, _error(401, "Unauthorized")
            if key != self.api_key and (global_only or self.instances[name].token != key):
                return 401, _error(401, "Unauthorized")
            return handler(self, self.instances.get(name), body)

    # endpoints ------------------------------------------------------------------------------
    def _create(self, _inst, body):
        name = body.get("instanceName")
        if not name:
            return 400, _error(400, ['instance requires property "instanceName"'])
        if name in self.instances:
            return 403, _error(403, [f'This name "{name}" is already in use.'])
        integration = body.get("integration") or "WHATSAPP-BAILEYS"
        if integration not in ("WHATSAPP-BAILEYS", "WHATSAPP-BUSINESS", "EVOLUTION"):
            return 400, _error(400, ["Invalid integration"])
        hook = body.get("webhook") or {}
        inst = Instance(name=name, token=body.get("token") or str(uuid.uuid4()).upper(), integration=integration)
        inst.webhook = {"enabled": bool(hook.get("url")), "url": hook.get("url", ""), "headers": hook.get("headers") or {},
                        "byEvents": bool(hook.get("byEvents")), "base64": bool(hook.get("base64")),
                        "events": hook.get("events") or []}
        self.instances[name] = inst
        self._emit(inst, "INSTANCE_CREATE", {"instanceName": name, "instanceId": inst.instance_id})
        qrcode = None
        if body.get("qrcode") and integration == "WHATSAPP-BAILEYS":
            inst.state = "connecting"
            self._emit(inst, "CONNECTION_UPDATE", {"instance": name, "state": "connecting", "statusReason": 200})
            qrcode = self.next_qr(name)
        settings = {"rejectCall": body.get("rejectCall") is True, "msgCall": body.get("msgCall") or "",
                    "groupsIgnore": body.get("groupsIgnore") is True, "alwaysOnline": body.get("alwaysOnline") is True,
                    "readMessages": body.get("readMessages") is True, "readStatus": body.get("readStatus") is True,
                    "syncFullHistory": body.get("syncFullHistory") is True}
        return 201, {"instance": {"instanceName": name, "instanceId": inst.instance_id, "integration": integration,
                                  "webhookWaBusiness": None, "accessTokenWaBusiness": "", "status": "created"},
                     "hash": inst.token,
                     "webhook": {"webhookUrl": inst.webhook["url"], "webhookByEvents": inst.webhook["byEvents"],
                                 "webhookBase64": inst.webhook["base64"]},
                     "websocket": {}, "rabbitmq": {}, "nats": {}, "sqs": {}, "settings": settings, "qrcode": qrcode}

    def _fetch_instances(self, _inst, body):
        wanted = body.get("instanceName")
        return 200, [{"id": i.instance_id, "name": i.name, "connectionStatus": i.state, "ownerJid": i.owner_jid,
                      "profileName": i.profile_name, "profilePicUrl": None, "integration": i.integration,
                      "number": None, "token": i.token, "clientName": "evolution_exchange",
                      "disconnectionReasonCode": i.status_reason if i.state == "close" else None,
                      "disconnectionAt": None, "createdAt": _now_iso(), "updatedAt": _now_iso()}
                     for i in self.instances.values() if not wanted or i.name == wanted]

    def _connect(self, inst, _body):
        if inst.state == "open":
            return 200, {"instance": {"instanceName": inst.name, "state": "open"}}
        if inst.state == "connecting" and inst.qr:
            return 200, dict(inst.qr)
        inst.state, inst.qr_count = "connecting", 0
        self._emit(inst, "CONNECTION_UPDATE", {"instance": inst.name, "state": "connecting", "statusReason": 200})
        qr = self.next_qr(inst.name)
        return 200, qr or {"pairingCode": None, "code": None, "base64": None, "count": 0}

    def _connection_state(self, inst, _body):
        return 200, {"instance": {"instanceName": inst.name, "state": inst.state}}

    def _restart(self, inst, _body):
        if inst.state == "close":
            return 400, _error(400, [f'The "{inst.name}" instance is not connected'])
        if inst.state == "open":
            self._emit(inst, "CONNECTION_UPDATE", {"instance": inst.name, "state": "connecting", "statusReason": 200})
            self._emit(inst, "CONNECTION_UPDATE", {"instance": inst.name, "wuid": inst.owner_jid,
                                                   "profileName": inst.profile_name, "profilePictureUrl": None,
                                                   "state": "open", "statusReason": 200})
            return 200, {"instance": {"instanceName": inst.name, "state": "open"}}
        return 200, dict(inst.qr)

    def _logout(self, inst, _body):
        if inst.state == "close":
            return 400, _error(400, [f'The "{inst.name}" instance is not connected'])
        inst.state, inst.status_reason, inst.qr = "close", 401, {}
        self._emit(inst, "CONNECTION_UPDATE", {"instance": inst.name, "state": "close", "statusReason": 401})
        return 200, {"status": "SUCCESS", "error": False, "response": {"message": "Instance logged out"}}

    def _delete(self, inst, _body):
        if inst.state == "open":
            return 400, _error(400, [f'The "{inst.name}" instance needs to be disconnected'])
        self._emit(inst, "INSTANCE_DELETE", {"instanceName": inst.name, "instanceId": inst.instance_id})
        del self.instances[inst.name]
        return 200, {"status": "SUCCESS", "error": False, "response": {"message": "Instance deleted"}}

    def _webhook_set(self, inst, body):
        hook = body.get("webhook")
        if not isinstance(hook, dict) or not hook.get("url"):
            return 400, _error(400, ['instance requires property "webhook"'])
        inst.webhook = {"enabled": hook.get("enabled", True), "url": hook["url"], "headers": hook.get("headers") or {},
                        "byEvents": bool(hook.get("byEvents")), "base64": bool(hook.get("base64")),
                        "events": hook.get("events") or []}
        return 201, {"id": secrets.token_hex(12), "instanceId": inst.instance_id, **{
            "url": inst.webhook["url"], "headers": inst.webhook["headers"], "enabled": inst.webhook["enabled"],
            "events": inst.webhook["events"], "webhookByEvents": inst.webhook["byEvents"],
            "webhookBase64": inst.webhook["base64"]}}

    def _webhook_find(self, inst, _body):
        return 200, {"enabled": inst.webhook.get("enabled", False), "url": inst.webhook.get("url", ""),
                     "headers": inst.webhook.get("headers", {}), "events": inst.webhook.get("events", []),
                     "webhookByEvents": inst.webhook.get("byEvents", False),
                     "webhookBase64": inst.webhook.get("base64", False)}

    def _recipient(self, inst, number) -> tuple[int, Any] | str:
        if not isinstance(number, str) or not number:
            return 400, _error(400, ['instance requires property "number"'])
        if inst.state != "open":
            return 400, _error(400, ["Error: Connection Closed"])
        jid = create_jid(number)
        digits = jid.split("@")[0]
        if jid.endswith("@s.whatsapp.net") and ({digits, "".join(c for c in number if c.isdigit())}
                                                & self.unknown_numbers):
            return 400, _error(400, [{"jid": jid, "exists": False, "number": number}])
        return jid

    def _store_sent(self, inst, jid: str, message: dict) -> dict:
        record = Payloads.message_record(remote_jid=jid, message=message, from_me=True, instance_id=inst.instance_id,
                                         phone="")
        record["status"] = "PENDING"
        inst.messages.append(record)
        self.sent.append(record)
        self._emit(inst, "SEND_MESSAGE", record)
        if self.auto_ack:
            for status in ("SERVER_ACK", "DELIVERY_ACK"):
                self._emit(inst, "MESSAGES_UPDATE", {
                    "messageId": f"cm{secrets.token_hex(11)}", "keyId": record["key"]["id"], "remoteJid": jid,
                    "fromMe": True, "participant": None, "status": status, "instanceId": inst.instance_id})
        return record

    def _send_text(self, inst, body):
        target = self._recipient(inst, body.get("number"))
        if isinstance(target, tuple):
            return target
        if not isinstance(body.get("text"), str) or not body["text"]:
            return 400, _error(400, ['instance requires property "text"'])
        return 201, self._store_sent(inst, target, {"conversation": body["text"]})

    def _send_media(self, inst, body):
        target = self._recipient(inst, body.get("number"))
        if isinstance(target, tuple):
            return target
        mediatype = body.get("mediatype")
        if mediatype not in ("image", "video", "document", "audio"):
            return 400, _error(400, ["Invalid media type"])
        media = body.get("media")
        if not isinstance(media, str) or not media:
            return 400, _error(400, ["Owned media must be a url or base64"])
        mimetype = body.get("mimetype") or {"image": "image/png", "video": "video/mp4", "audio": "audio/mp4",
                                             "document": "application/pdf"}[mediatype]
        content = self._media_bytes(media)
        extra = {"fileName": body.get("fileName") or "file"} if mediatype == "document" else {}
        message = Payloads._media(f"{mediatype}Message", mimetype, caption=body.get("caption") or "",
                                  size=len(content), **extra)
        record = self._store_sent(inst, target, message)
        inst.media[record["key"]["id"]] = (content, mimetype, body.get("fileName") or "")
        return 201, record

    def _send_audio(self, inst, body):
        target = self._recipient(inst, body.get("number"))
        if isinstance(target, tuple):
            return target
        audio = body.get("audio")
        if not isinstance(audio, str) or not audio:
            return 400, _error(400, ["Owned media must be a url or base64"])
        content = self._media_bytes(audio)
        record = self._store_sent(inst, target, Payloads._media("audioMessage", "audio/ogg; codecs=opus",
                                                                size=len(content), ptt=True, seconds=3))
        inst.media[record["key"]["id"]] = (content, "audio/ogg; codecs=opus", "")
        return 201, record

    def _send_sticker(self, inst, body):
        target = self._recipient(inst, body.get("number"))
        if isinstance(target, tuple):
            return target
        if not body.get("sticker"):
            return 400, _error(400, ['instance requires property "sticker"'])
        return 201, self._store_sent(inst, target, Payloads.sticker())

    @staticmethod
    def _media_bytes(media: str) -> bytes:
        if media.startswith(("http://", "https://")):
            return b""  # Evolution would download it; the fake does not
        try:
            return base64.b64decode(media.split(",", 1)[-1])
        except ValueError:
            return b""

    def _send_presence(self, inst, body):
        if not body.get("number") or body.get("presence") not in (
                "unavailable", "available", "composing", "recording", "paused") or "delay" not in body:
            return 400, _error(400, ['instance requires property "presence"'])
        if inst.state != "open":
            return 400, _error(400, ["Error: Connection Closed"])
        # Evolution holds the answer for "delay" ms (typing...), then sends "paused".
        return 201, {"presence": body["presence"]}, min(float(body.get("delay") or 0) / 1000, 5.0)

    def _find_messages(self, inst, body):
        where = body.get("where") or {}
        key = where.get("key") or {}
        stamp = where.get("messageTimestamp") or {}
        records = list(inst.messages)
        if key.get("id"):
            records = [r for r in records if r["key"]["id"] == key["id"]]
        if key.get("fromMe"):  # Evolution only filters on a truthy fromMe
            records = [r for r in records if r["key"]["fromMe"] == key["fromMe"]]
        if key.get("remoteJid"):
            records = [r for r in records if r["key"]["remoteJid"] == key["remoteJid"]]
        if stamp.get("gte") and stamp.get("lte"):
            gte, lte = _parse_iso(stamp["gte"]), _parse_iso(stamp["lte"])
            records = [r for r in records if gte <= r["messageTimestamp"] <= lte]
        records.sort(key=lambda r: r["messageTimestamp"], reverse=True)
        offset = int(body.get("offset") or 50)
        page = int(body.get("page") or 1)
        pages = max(1, -(-len(records) // offset))
        chunk = records[(page - 1) * offset: page * offset]
        out = [{"id": f"cm{hashlib.md5(r['key']['id'].encode()).hexdigest()[:23]}", "key": r["key"],
                "pushName": r.get("pushName"), "messageType": r["messageType"], "message": r["message"],
                "messageTimestamp": r["messageTimestamp"], "instanceId": inst.instance_id, "source": r.get("source"),
                "contextInfo": None, "MessageUpdate": [{"status": r.get("status")}]} for r in chunk]
        return 200, {"messages": {"total": len(records), "pages": pages, "currentPage": page, "records": out}}

    def _get_base64(self, inst, body):
        message_id = ((body.get("message") or {}).get("key") or {}).get("id")
        record = next((m for m in inst.messages if m["key"]["id"] == message_id), None)
        if record is None:
            return 400, _error(400, ["Message not found"])
        kind, part = next(((k, v) for k, v in record["message"].items() if isinstance(v, dict) and "mimetype" in v),
                          (None, None))
        if part is None:
            return 400, _error(400, ["The message is not of the media type"])
        content, mimetype, file_name = inst.media.get(message_id, (b"", part["mimetype"], ""))
        ext = {"image/jpeg": "jpeg", "image/png": "png", "application/pdf": "pdf", "video/mp4": "mp4",
               "image/webp": "webp"}.get(mimetype.split(";")[0], "ogg" if "ogg" in mimetype else "bin")
        return 201, {"mediaType": kind, "fileName": part.get("fileName") or file_name or f"{message_id}.{ext}",
                     "caption": part.get("caption"), "size": {"fileLength": part.get("fileLength"),
                                                              "height": part.get("height"), "width": part.get("width")},
                     "mimetype": mimetype, "base64": base64.b64encode(content).decode(), "buffer": None}


def _parse_iso(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _reason(status: int) -> str:
    return {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}.get(status, "Error")


def _error(status: int, message: Any) -> dict:
    """Evolution's error body."""
    return {"status": status, "error": _reason(status), "response": {"message": message}}


_ROUTES: dict[tuple[str, str], Callable] = {
    ("POST", "instance/create"): FakeEvolution._create,
    ("GET", "instance/fetchInstances"): FakeEvolution._fetch_instances,
    ("GET", "instance/connect"): FakeEvolution._connect,
    ("GET", "instance/connectionState"): FakeEvolution._connection_state,
    ("POST", "instance/restart"): FakeEvolution._restart,
    ("DELETE", "instance/logout"): FakeEvolution._logout,
    ("DELETE", "instance/delete"): FakeEvolution._delete,
    ("POST", "webhook/set"): FakeEvolution._webhook_set,
    ("GET", "webhook/find"): FakeEvolution._webhook_find,
    ("POST", "message/sendText"): FakeEvolution._send_text,
    ("POST", "message/sendMedia"): FakeEvolution._send_media,
    ("POST", "message/sendWhatsAppAudio"): FakeEvolution._send_audio,
    ("POST", "message/sendSticker"): FakeEvolution._send_sticker,
    ("POST", "chat/sendPresence"): FakeEvolution._send_presence,
    ("POST", "chat/findMessages"): FakeEvolution._find_messages,
    ("POST", "chat/getBase64FromMediaMessage"): FakeEvolution._get_base64,
}


class _Handler(BaseHTTPRequestHandler):
    owner: FakeEvolution
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, body, delay = self.owner.handle(self.command, self.path, headers, raw)
        if delay:
            time.sleep(delay)
        payload = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (timeout tests)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

