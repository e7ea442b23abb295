"""``{% load notifications %}{% notification_bell %}`` renders the top bar's bell for the signed-in
user of a tenant (nothing elsewhere); ``{% unread_notifications %}`` gives the bare count."""
from django import template
from django.db import connection

from ..selectors import unread_count

register = template.Library()


def _in_tenant() -> bool:
    tenant = getattr(connection, "tenant", None)
    return tenant is not None and tenant.schema_name != "public"


@register.inclusion_tag("notifications/bell.html", takes_context=True)
def notification_bell(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    show = bool(user is not None and user.is_authenticated and _in_tenant())
    count = unread_count(user) if show else 0
    return {
        "show": show,
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "unread_count": count,
        "unread_display": "99+" if count > 99 else str(count),
    }


@register.simple_tag(takes_context=True)
def unread_notifications(context) -> int:
    request = context.get("request")
    user = getattr(request, "user", None)
    return unread_count(user) if user is not None and _in_tenant() else 0
