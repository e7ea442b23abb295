"""Blocks a suspended or canceled tenant's dashboard and API; nothing is deleted."""
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from .choices import TenantStatus

ALWAYS_OPEN = ("/health", "/static/", "/i18n/")


def blocked_reason(tenant) -> str:
    if tenant.status == TenantStatus.CANCELED:
        return _("This account has been canceled. Contact support to reactivate it; your data is kept.")
    return _("This account is suspended. Contact support or settle the pending invoice; your data is kept.")


class TenantStatusMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tenant = getattr(connection, "tenant", None)
        if tenant is not None and getattr(tenant, "is_blocked", False) and not request.path.startswith(ALWAYS_OPEN):
            reason = blocked_reason(tenant)
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": reason, "code": f"tenant_{tenant.status}"}, status=403)
            return render(request, "tenants/blocked.html", {"tenant": tenant, "reason": reason}, status=403)
        return self.get_response(request)
