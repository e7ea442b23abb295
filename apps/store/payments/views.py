"""The Mercado Pago webhook on the tenant's domain: ``POST /hooks/mercadopago/?data.id=...&type=payment``.

The domain picks the tenant (django-tenants), so the notification is checked against that tenant's
webhook secret and the payment is read back with that tenant's token: a notification for another
store can never touch this one's orders. Thin: the service verifies and applies."""
from __future__ import annotations

import json
import logging

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from ..services.payments import NotificationRejected, payment_notification

log = logging.getLogger(__name__)


def _reject(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"error": reason}, status=status)


@csrf_exempt
def webhook(request):
    if request.method != "POST":
        return _reject(405, "method not allowed")
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    body = request.read(limit + 1)
    if len(body) > limit:
        return _reject(413, f"body larger than {limit} bytes")
    try:
        payload = json.loads(body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        payload = None
    if not isinstance(payload, dict):
        return _reject(400, "the body must be a JSON object")
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    # Mercado Pago signs the data.id of the query string; the body's copy is the fallback it documents
    data_id = str(request.GET.get("data.id") or request.GET.get("id") or data.get("id") or "").strip()
    topic = str(request.GET.get("type") or request.GET.get("topic") or payload.get("type") or "").strip()
    try:
        result = payment_notification(data_id=data_id, topic=topic, signature=request.headers.get("x-signature", ""),
                                      request_id=request.headers.get("x-request-id", ""))
    except NotificationRejected as exc:
        if exc.status != 503:
            log.info("Mercado Pago webhook rejected (%s): %s", exc.status, exc.reason)
        return _reject(exc.status, exc.reason)
    return JsonResponse({"received": True, "outcome": result.outcome})
