"""A fake Mercado Pago API on 127.0.0.1, plus the webhooks Mercado Pago sends.

``FakeMercadoPago`` serves, on a free port in a thread, what the store's client calls, with bodies
shaped as Mercado Pago documents them:

- ``POST /v1/payments`` (``payment_method_id: "pix"``) -> 201 with the payment: ``id``, ``status``
  "pending" / ``status_detail`` "pending_waiting_transfer", ``transaction_amount``,
  ``external_reference``, ``date_of_expiration``, and ``point_of_interaction.transaction_data``
  with ``qr_code`` (the Pix copy-and-paste text), ``qr_code_base64`` (a real PNG) and ``ticket_url``.
  ``X-Idempotency-Key`` is required; the same key on the same account gives back the same payment
  (nothing new is created).
- ``GET /v1/payments/{id}`` -> the payment, or 404 when it does not belong to the caller's account.

Every call needs ``Authorization: Bearer <token>`` of a known account (``accounts``: token -> user
id; ``add_account`` makes another): a wrong token answers 401. Errors use Mercado Pago's shape
``{"message", "error", "status", "cause": [{"code", "description", "data"}]}``. ``fail_next(times,
status)`` scripts failures, ``slow_next`` answers late (the payment exists, the client timed out),
``approve(id)`` / ``set_status`` move a payment the way paying it in a bank app would, and every
request is recorded in ``requests``.

Webhooks: ``notification_body`` is the JSON Mercado Pago POSTs (``action``, ``api_version``,
``data.id``, ``type`` ...), ``signature`` computes the ``x-signature`` header ("ts=...,v1=...": the
HMAC-SHA256 of ``id:{data.id};request-id:{x-request-id};ts:{ts};`` with the webhook secret),
``webhook_request`` gives the query string, headers and body of one delivery (for Django's test
client: ``notification_url?data.id=...&type=payment``), and ``deliver`` POSTs it to a URL.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
import struct
import threading
import time
import urllib.error
import urllib.request
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from .base import LocalHTTPFake, RecordedRequest, _Failure

ACCESS_TOKEN = "APP_USR-1234567890123456-010203-fakeaccesstoken0123456789abcdef-123456789"
USER_ID = 123456789
WEBHOOK_SECRET = "f4k3-mp-webhook-secret-abcdef0123456789"
BRT = timezone(timedelta(hours=-3))

_ids = itertools.count(1319000001)


def mp_error(message: str, *, status: int, error: str, code=None) -> dict:
    return {"message": message, "error": error, "status": status,
            "cause": [{"code": code if code is not None else status, "description": message, "data": None}]}


def png(seed: str = "", size: int = 21) -> bytes:
    """A real (tiny, greyscale) PNG whose pixels depend on ``seed``: what qr_code_base64 decodes to."""
    digest = hashlib.sha256(seed.encode()).digest() * (size * size // 32 + 1)
    rows = b"".join(b"\x00" + bytes(0 if digest[y * size + x] & 1 else 255 for x in range(size))
                    for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _crc16(payload: str) -> str:
    """CRC16-CCITT (0x1021, init 0xFFFF), as the Pix BR Code ends with."""
    crc = 0xFFFF
    for byte in payload.encode():
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


def pix_code(amount: Decimal, txid: str) -> str:
    """A Pix "copia e cola" (EMV BR Code) for ``amount``."""
    def field_(tag: str, value: str) -> str:
        return f"{tag}{len(value):02d}{value}"

    account = field_("00", "br.gov.bcb.pix") + field_("25", f"qr.mercadopago.com/instore/o/v2/{txid}")
    body = (field_("00", "01") + field_("01", "12") + field_("26", account) + field_("52", "0000")
            + field_("53", "986") + field_("54", f"{amount:.2f}") + field_("58", "BR")
            + field_("59", "LOJA TESTE") + field_("60", "SAO PAULO") + field_("62", field_("05", "***")) + "6304")
    return body + _crc16(body)


def _iso(moment: datetime) -> str:
    return moment.astimezone(BRT).isoformat(timespec="milliseconds")




class _ApiFailure(Exception):
    def __init__(self, status: int, body: dict):
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body


@dataclass
class FakeMercadoPago(LocalHTTPFake):
    accounts: dict = field(default_factory=lambda: {ACCESS_TOKEN: USER_ID})
    requests: list = field(default_factory=list)
    payments: dict = field(default_factory=dict)  # id (str) -> payment dict (as the API shows it)

    def __post_init__(self):
        self._owner: dict[str, str] = {}  # payment id -> token of the account that created it
        self._idempotency: dict[tuple[str, str], str] = {}  # (token, key) -> payment id
        self._failures: list[_Failure] = []
        self._slow: list[float] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- scripting -----------------------------------------------------------------------
    def add_account(self, token: str | None = None) -> str:
        """Another seller's account; returns its access token."""
        token = token or f"APP_USR-{secrets.token_hex(8)}-{secrets.randbelow(10**9)}"
        with self._lock:
            self.accounts[token] = next(_ids)
        return token

    def fail_next(self, times: int = 1, *, status: int = 500, body: dict | None = None, delay: float = 0.0) -> None:
        """The next ``times`` calls answer ``status`` (after ``delay`` seconds)."""
        if body is None:
            body = (mp_error("internal_error", status=status, error="internal_server_error") if status >= 500
                    else mp_error("too many requests", status=status, error="too_many_requests"))
        with self._lock:
            self._failures += [_Failure(status, body, delay) for _ in range(times)]

    def slow_next(self, times: int = 1, *, delay: float = 1.0) -> None:
        """The next ``times`` calls are carried out, but answered only after ``delay`` seconds: a client
        with a shorter timeout never hears that its payment was created (the answer is lost)."""
        with self._lock:
            self._slow += [delay] * times

    def set_status(self, payment_id, status: str, detail: str = "") -> dict:
        with self._lock:
            payment = self.payments[str(payment_id)]
            payment["status"] = status
            payment["status_detail"] = detail or status
            now = _iso(datetime.now(timezone.utc))
            payment["date_last_updated"] = now
            if status == "approved":
                payment["date_approved"] = now
                payment["money_release_date"] = now
                payment["transaction_details"]["total_paid_amount"] = payment["transaction_amount"]
                payment["transaction_details"]["net_received_amount"] = payment["transaction_amount"]
            return payment

    def approve(self, payment_id) -> dict:
        """The customer paid the Pix in their bank app."""
        return self.set_status(payment_id, "approved", "accredited")

    def calls(self, method: str, path_contains: str = "") -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and path_contains in r.path]

    # --- HTTP ----------------------------------------------------------------------------
    def _reply(self, handler, status: int, body) -> None:
        data = json.dumps(body).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a scripted timeout)

    def _dispatch(self, handler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        record = RecordedRequest(handler.command, parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()},
                                 {k.lower(): v for k, v in handler.headers.items()}, body)
        with self._lock:
            self.requests.append(record)
            failure = self._failures.pop(0) if self._failures else None
            slow = self._slow.pop(0) if self._slow and not failure else 0.0
        if failure:
            if failure.delay:
                time.sleep(failure.delay)
            return self._reply(handler, failure.status, failure.body)
        auth = handler.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        if token not in self.accounts:
            return self._reply(handler, 401, mp_error("invalid access token", status=401, error="unauthorized",
                                                      code=401))
        try:
            status, answer = self._route(record, token)
        except _ApiFailure as exc:
            status, answer = exc.status, exc.body
        if slow:
            time.sleep(slow)
        self._reply(handler, status, answer)

    def _route(self, req: RecordedRequest, token: str):
        path = req.path.rstrip("/")
        if req.method == "POST" and path == "/v1/payments":
            return self._create(req, token)
        match = re.fullmatch(r"/v1/payments/(\d+)", path)
        if req.method == "GET" and match:
            payment_id = match.group(1)
            with self._lock:
                if self._owner.get(payment_id) != token:
                    raise _ApiFailure(404, mp_error("Payment not found", status=404, error="not_found", code=2000))
                return 200, self.payments[payment_id]
        raise _ApiFailure(404, mp_error(f"resource {req.path} not found", status=404, error="not_found"))

    def _bad(self, message: str, code: int = 4000) -> _ApiFailure:
        return _ApiFailure(400, mp_error(message, status=400, error="bad_request", code=code))

    def _create(self, req: RecordedRequest, token: str):
        key = req.headers.get("x-idempotency-key", "")
        if not key:
            raise self._bad("Header X-Idempotency-Key can't be null", code=4292)
        try:
            body = json.loads(req.body or b"{}", parse_float=Decimal)
        except ValueError:
            raise self._bad("JSON body is not valid") from None
        with self._lock:
            existing = self._idempotency.get((token, key))
            if existing is not None:  # the same request again: the same payment, nothing new
                return 201, self.payments[existing]
        amount = body.get("transaction_amount")
        try:
            amount = Decimal(str(amount))
        except (InvalidOperation, TypeError):
            raise self._bad("transaction_amount attribute can't be null", code=2020) from None
        if isinstance(body.get("transaction_amount"), str) or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
            raise self._bad("Invalid transaction_amount", code=4037)
        if body.get("payment_method_id") != "pix":
            raise self._bad("payment_method_id must be pix in this fake", code=4050)
        payer = body.get("payer") or {}
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", str(payer.get("email") or "")):
            raise self._bad("payer.email must be a valid email", code=4050)
        now = datetime.now(timezone.utc)
        expiration = body.get("date_of_expiration")
        if expiration is not None:
            try:
                expires = datetime.fromisoformat(str(expiration))
            except ValueError:
                raise self._bad("date_of_expiration must be a valid date", code=4052) from None
            if expires.tzinfo is None:
                raise self._bad("date_of_expiration must have a time zone offset", code=4052)
        else:
            expires = now + timedelta(hours=24)
        payment_id = str(next(_ids))
        txid = uuid.uuid4().hex
        code = pix_code(amount, txid)
        payment = {
            "id": int(payment_id), "date_created": _iso(now), "date_approved": None, "date_last_updated": _iso(now),
            "date_of_expiration": _iso(expires), "money_release_date": None, "operation_type": "regular_payment",
            "issuer_id": None, "payment_method_id": "pix", "payment_type_id": "bank_transfer",
            "status": "pending", "status_detail": "pending_waiting_transfer", "currency_id": "BRL",
            "description": body.get("description"), "live_mode": False, "collector_id": self.accounts[token],
            "payer": {"id": None, "email": payer.get("email"), "identification": payer.get("identification"),
                      "type": None},
            "metadata": body.get("metadata") or {}, "external_reference": body.get("external_reference"),
            "notification_url": body.get("notification_url"),
            "transaction_amount": float(amount), "transaction_amount_refunded": 0, "coupon_amount": 0,
            "installments": 1,
            "transaction_details": {"net_received_amount": 0, "total_paid_amount": float(amount),
                                    "overpaid_amount": 0, "installment_amount": 0, "financial_institution": None,
                                    "bank_transfer_id": None, "transaction_id": None},
            "point_of_interaction": {
                "type": "OPENPLATFORM", "sub_type": None,
                "application_data": {"name": None, "version": None},
                "transaction_data": {
                    "qr_code": code,
                    "qr_code_base64": base64.b64encode(png(code)).decode(),
                    "ticket_url": f"https://www.mercadopago.com.br/payments/{payment_id}/ticket?caller_id="
                                  f"{self.accounts[token]}&hash={txid}",
                    "transaction_id": None, "bank_transfer_id": None, "financial_institution": None,
                    "bank_info": {"payer": {}, "collector": {"account_holder_name": "LOJA TESTE"}},
                },
            },
        }
        with self._lock:
            existing = self._idempotency.get((token, key))  # a concurrent twin won the race
            if existing is not None:
                return 201, self.payments[existing]
            self._idempotency[(token, key)] = payment_id
            self._owner[payment_id] = token
            self.payments[payment_id] = payment
        return 201, payment


# --- webhooks ------------------------------------------------------------------------------------


def notification_body(payment_id, *, action: str = "payment.updated", user_id: int = USER_ID) -> dict:
    """The JSON body of a payment notification, as Mercado Pago sends it."""
    return {"action": action, "api_version": "v1", "data": {"id": str(payment_id)},
            "date_created": _iso(datetime.now(timezone.utc)), "id": next(_ids), "live_mode": False,
            "type": "payment", "user_id": str(user_id)}


def signature(data_id, request_id: str, ts: str, secret: str = WEBHOOK_SECRET) -> str:
    """The ``x-signature`` header: ``ts=...,v1=<hex HMAC-SHA256 of the manifest>``."""
    manifest = f"id:{str(data_id).lower()};request-id:{request_id};ts:{ts};"
    return f"ts={ts},v1=" + hmac.new(secret.encode(), manifest.encode(), hashlib.sha256).hexdigest()


@dataclass
class WebhookRequest:
    query: str  # "data.id=...&type=payment"
    headers: dict  # x-signature, x-request-id, content-type
    body: bytes

    def django_headers(self) -> dict:
        """The headers as Django's test client takes them (``HTTP_X_SIGNATURE=...``)."""
        return {"HTTP_" + k.upper().replace("-", "_"): v for k, v in self.headers.items() if k != "content-type"}


def webhook_request(payment_id, *, secret: str = WEBHOOK_SECRET, action: str = "payment.updated",
                    request_id: str | None = None, ts: str | None = None, body: dict | None = None) -> WebhookRequest:
    """One delivery of a payment notification, signed with ``secret``."""
    request_id = request_id or str(uuid.uuid4())
    ts = ts or str(int(time.time()))
    payload = body if body is not None else notification_body(payment_id, action=action)
    return WebhookRequest(query=urlencode({"data.id": str(payment_id), "type": "payment"}),
                          headers={"content-type": "application/json", "x-request-id": request_id,
                                   "x-signature": signature(payment_id, request_id, ts, secret)},
                          body=json.dumps(payload).encode())


def deliver(url: str, payment_id, *, secret: str = WEBHOOK_SECRET, host: str | None = None,
            timeout: float = 10.0, **kwargs) -> tuple[int, bytes]:
    """POST a signed notification to ``url`` (the notification_url) as Mercado Pago does."""
    hook = webhook_request(payment_id, secret=secret, **kwargs)
    headers = dict(hook.headers)
    if host:
        headers["Host"] = host
    request = urllib.request.Request(f"{url}{'&' if '?' in url else '?'}{hook.query}", data=hook.body,
                                     method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
