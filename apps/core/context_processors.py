from django.conf import settings
from django.db import connection

from .navigation import nav_for


def shell(request):
    tenant = getattr(connection, "tenant", None)
    is_tenant = tenant is not None and tenant.schema_name != "public"
    user = getattr(request, "user", None)
    context = {
        "current_tenant": tenant if is_tenant else None,
        "theme": getattr(user, "theme", "") if user is not None and user.is_authenticated else "",
        "LANGUAGES": settings.LANGUAGES,
    }
    if is_tenant and user is not None and user.is_authenticated:
        context["nav"] = nav_for(user, request.path)
    return context
