"""ASGI entry point: HTTP through Django (django-tenants picks the schema), WebSockets through
Channels with the tenant resolved from the Host header."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.dev")
django_asgi_app = get_asgi_application()

from django.conf import settings  # noqa: E402

if settings.DEBUG:
    # `make run` and browser tests: uvicorn serves /static/ itself (nginx does it in production)
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

    django_asgi_app = ASGIStaticFilesHandler(django_asgi_app)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from saas.routing import websocket_urlpatterns  # noqa: E402
from tenants.channels import TenantAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(TenantAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
