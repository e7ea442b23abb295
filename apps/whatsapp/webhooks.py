"""Provider webhooks on the public domain: ``/hooks/<provider>/<key>/``.

Order matters: cap the body, find the route, authenticate on the raw bytes, only then parse;
store every normalized item (deduplicated) and commit before answering 200, so the provider
retries anything we did not keep. Rejections store nothing and say why."""
from __future__ import annotations

import json
import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django_tenants.utils import schema_context

from .providers import get_provider
from .providers.base import WebhookRejected
from .selectors import route_for_key

log = logging.getLogger(__name__)


def _reject(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"error": reason}, status=status)


def _read_body(request) -> bytes | None:
    """The body, or None when it exceeds the cap (checked before reading when the length is known)."""
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


@csrf_exempt
def receive(request, provider: str, key: str):
    if request.method not in ("GET", "POST"):
        return _reject(405, "method not allowed")
    route = route_for_key(key)
    if route is None or route.provider != provider:
        return _reject(404, "unknown webhook")
    if route.tenant.status == "canceled":
        return _reject(410, "this account is closed")
    try:
        impl = get_provider(provider)
    except LookupError:
        return _reject(404, "unknown provider")

    from .models import Connection

    with schema_context(route.tenant.schema_name):
        conn = Connection.objects.filter(pk=route.connection_id).first()
        if conn is None:
            return _reject(404, "unknown webhook")
        try:
            if request.method == "GET":
                return HttpResponse(impl.handshake(conn, request.GET.dict()), content_type="text/plain")
            body = _read_body(request)
            if body is None:
                return _reject(413, f"body larger than {settings.WEBHOOK_MAX_BODY_BYTES} bytes")
            headers = {k.lower(): v for k, v in request.headers.items()}
            impl.authenticate(conn, headers=headers, body=body, query=request.GET.dict())
            try:
                payload = json.loads(body)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                return _reject(400, f"malformed JSON: {exc}")
            if not isinstance(payload, dict):
                return _reject(400, "the body must be a JSON object")
            items = impl.parse_webhook(conn, payload)
        except WebhookRejected as exc:
            return _reject(exc.status, exc.reason)

        from .services.ingest import store_items

        new_ids = store_items(conn, items)
    return JsonResponse({"received": len(items), "stored": len(new_ids)})
