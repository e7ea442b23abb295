"""Mercado Pago, as the store uses it: Pix charges (``POST /v1/payments``), reading a payment back
(``GET /v1/payments/{id}``) and checking a webhook's ``x-signature``.

The store talks to a ``PixGateway`` (``create_pix`` / ``get_payment``); ``MercadoPagoClient`` is the
one real implementation. Plain ``urllib`` speaks to the API, as the WhatsApp providers do: the
project has no HTTP client dependency and needs none. Tests run this client against
``tests/fakes/mercadopago.py`` on 127.0.0.1, which speaks the same wire format.

Money never goes through ``float``: the amount is written into the JSON as its decimal text and
answers are parsed with ``parse_float=Decimal``.

Errors: ``GatewayAuthError`` (401/403: the access token is wrong or lacks permission),
``GatewayTemporaryError`` (5xx, 429, timeouts, connection errors: try again later; a create with the
same idempotency key is safe to repeat), ``GatewayRejected`` (another 4xx, with Mercado Pago's own
message), ``GatewayNotFound`` (404 on a read). ``str(exc)`` is readable by staff and never contains
the token.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import socket
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Protocol
from urllib.error import HTTPError, URLError

from django.conf import settings
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

CENT = Decimal("0.01")
_AMOUNT_SLOT = "__transaction_amount__"


class GatewayError(Exception):
    """Base of Mercado Pago failures; ``str(exc)`` is shown to staff."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class GatewayAuthError(GatewayError):
    """401/403: the access token is invalid, expired or not allowed to do this."""


class GatewayTemporaryError(GatewayError):
    """5xx, 429, timeouts and connection errors: worth trying again later."""


class GatewayRejected(GatewayError):
    """Any other 4xx: the request itself was refused (with Mercado Pago's reason)."""


class GatewayNotFound(GatewayRejected):
    """404 on a read: no such payment for this account."""


@dataclass
class PixCharge:
    """A payment as Mercado Pago describes it (the fields the store uses, plus the raw answer)."""

    id: str
    status: str  # pending, approved, authorized, in_process, in_mediation, rejected, cancelled, refunded, charged_back
    status_detail: str = ""
    amount: Decimal = Decimal("0")
    external_reference: str = ""
    qr_code: str = ""  # Pix copy-and-paste ("copia e cola")
    qr_code_base64: str = ""  # PNG of the QR code
    ticket_url: str = ""
    expires_at: datetime | None = None
    approved_at: datetime | None = None
    raw: dict = field(default_factory=dict)

    @classmethod
    def from_api(cls, data: dict) -> "PixCharge":
        if not isinstance(data, dict) or data.get("id") in (None, ""):
            raise GatewayTemporaryError(_("Mercado Pago answered without a payment id."))
        poi = data.get("point_of_interaction") or {}
        tx = (poi.get("transaction_data") or {}) if isinstance(poi, dict) else {}
        try:
            amount = Decimal(str(data.get("transaction_amount") or 0)).quantize(CENT, ROUND_HALF_UP)
        except InvalidOperation:
            amount = Decimal("0")
        return cls(
            id=str(data["id"]), status=str(data.get("status") or ""),
            status_detail=str(data.get("status_detail") or ""),
            amount=amount, external_reference=str(data.get("external_reference") or ""),
            qr_code=str(tx.get("qr_code") or ""), qr_code_base64=str(tx.get("qr_code_base64") or ""),
            ticket_url=str(tx.get("ticket_url") or ""), expires_at=_when(data.get("date_of_expiration")),
            approved_at=_when(data.get("date_approved")), raw=_jsonable(data))


class PixGateway(Protocol):
    def create_pix(self, *, amount: Decimal, description: str, external_reference: str, idempotency_key: str,
                   payer: dict, expires_at: datetime | None = None, notification_url: str = "") -> PixCharge: ...

    def get_payment(self, payment_id: str) -> PixCharge: ...


def _when(value) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def _jsonable(value):
    """The raw answer as JSONField can store it (Decimals back to their text)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _api_error(status: int, body: bytes) -> str:
    """A readable text from ``{"message", "error", "status", "cause": [{"code", "description"}]}``."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        data = {}
    if not isinstance(data, dict) or not (data.get("message") or data.get("error")):
        text = body[:200].decode(errors="replace").strip()
        return f"Mercado Pago error {status}" + (f": {text}" if text else "")
    message = str(data.get("message") or data.get("error"))
    causes = [c.get("description") for c in data.get("cause") or [] if isinstance(c, dict) and c.get("description")]
    extra = "; ".join(str(c) for c in causes if str(c) not in message)
    return f"{message} ({extra})" if extra else message


class MercadoPagoClient:
    """One seller's account at Mercado Pago (its access token)."""

    def __init__(self, access_token: str, *, base_url: str | None = None, timeout: float | None = None):
        self._token = access_token
        self.base_url = (base_url or settings.MERCADOPAGO_API_URL).rstrip("/")
        self.timeout = timeout if timeout is not None else settings.MERCADOPAGO_HTTP_TIMEOUT

    def __repr__(self):  # never the token
        return f"<MercadoPagoClient {self.base_url}>"

    # --- HTTP ----------------------------------------------------------------------------
    def _request(self, method: str, path: str, *, data: bytes | None = None, headers: dict | None = None):
        request = urllib.request.Request(
            f"{self.base_url}{path}", data=data, method=method,
            headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json",
                     **({"Content-Type": "application/json"} if data is not None else {}), **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
        except HTTPError as exc:
            body = exc.read() if exc.fp else b""
            reason = _api_error(exc.code, body)
            if exc.code in (401, 403):
                raise GatewayAuthError(reason, status=exc.code) from None
            if exc.code == 404:
                raise GatewayNotFound(reason, status=404) from None
            if exc.code >= 500 or exc.code == 429:
                raise GatewayTemporaryError(reason, status=exc.code) from None
            raise GatewayRejected(reason, status=exc.code) from None
        except (socket.timeout, TimeoutError) as exc:
            raise GatewayTemporaryError(_("Mercado Pago timed out: %(error)s") % {"error": exc}) from None
        except URLError as exc:
            raise GatewayTemporaryError(_("Mercado Pago unreachable: %(error)s") % {"error": exc.reason}) from None
        except (ConnectionError, OSError) as exc:
            raise GatewayTemporaryError(_("Mercado Pago unreachable: %(error)s") % {"error": exc}) from None
        try:
            return json.loads(body or b"{}", parse_float=Decimal)
        except ValueError:
            raise GatewayTemporaryError(_("Mercado Pago answered with a body that is not JSON.")) from None

    # --- the API -------------------------------------------------------------------------
    def create_pix(self, *, amount: Decimal, description: str, external_reference: str, idempotency_key: str,
                   payer: dict, expires_at: datetime | None = None, notification_url: str = "") -> PixCharge:
        """``POST /v1/payments`` with ``payment_method_id: "pix"``. The same ``idempotency_key``
        (``X-Idempotency-Key``) always gives back the same payment, so a call whose answer was lost
        can simply be repeated."""
        amount = Decimal(amount).quantize(CENT, ROUND_HALF_UP)
        body = {"transaction_amount": _AMOUNT_SLOT, "payment_method_id": "pix", "description": description[:255],
                "external_reference": external_reference[:64], "payer": payer}
        if expires_at is not None:
            # Mercado Pago wants "yyyy-MM-dd'T'HH:mm:ss.SSSz" (milliseconds and an offset)
            body["date_of_expiration"] = expires_at.isoformat(timespec="milliseconds")
        if notification_url:
            body["notification_url"] = notification_url
        data = json.dumps(body).replace(f'"{_AMOUNT_SLOT}"', str(amount)).encode()
        answer = self._request("POST", "/v1/payments", data=data, headers={"X-Idempotency-Key": idempotency_key})
        return PixCharge.from_api(answer)

    def get_payment(self, payment_id: str) -> PixCharge:
        """``GET /v1/payments/{id}``: the payment as Mercado Pago has it now."""
        payment_id = str(payment_id)
        if not payment_id.isdigit():
            raise GatewayNotFound(_("Not a Mercado Pago payment id."), status=404)
        return PixCharge.from_api(self._request("GET", f"/v1/payments/{payment_id}"))


# --- webhooks ------------------------------------------------------------------------------------


def parse_signature(header: str) -> tuple[str, str] | None:
    """``(ts, v1)`` from an ``x-signature`` header ("ts=1704908010,v1=618c85..."), None when malformed."""
    parts = {}
    for piece in (header or "").split(","):
        key, sep, value = piece.partition("=")
        if sep:
            parts[key.strip().lower()] = value.strip()
    ts, v1 = parts.get("ts", ""), parts.get("v1", "")
    if not ts or not v1:
        return None
    return ts, v1


def signature_manifest(*, data_id: str, request_id: str, ts: str) -> str:
    """The signed text, as Mercado Pago documents it: ``id:[data.id];request-id:[x-request-id];ts:[ts];``
    with ``data.id`` in lower case; a value the notification lacks leaves its part out."""
    manifest = ""
    if data_id:
        manifest += f"id:{data_id.lower()};"
    if request_id:
        manifest += f"request-id:{request_id};"
    return manifest + f"ts:{ts};"


def verify_signature(*, secret: str, signature: str, request_id: str, data_id: str) -> bool:
    """True when ``x-signature`` is the HMAC-SHA256 (hex) of the manifest with the webhook secret."""
    parsed = parse_signature(signature)
    if not secret or parsed is None:
        return False
    ts, given = parsed
    expected = hmac.new(secret.encode(), signature_manifest(data_id=data_id, request_id=request_id, ts=ts).encode(),
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest(given.lower().encode(), expected.encode())
