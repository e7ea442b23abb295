"""URLs of a tenant's domain: the dashboard and the API."""
from django.conf import settings
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.core import views as core_views

api_v1 = [
    path("", include("apps.accounts.api.urls")),
    path("notifications/", include("apps.notifications.api.urls")),
    path("", include("apps.whatsapp.api.urls")),
    path("", include("apps.inbox.api.urls")),
    path("knowledge/", include("apps.knowledge.api.urls")),
    path("ai/", include("apps.agents.api.urls")),
    path("store/", include("apps.store.api.urls")),
    path("analytics/", include("apps.analytics.api.urls")),
]

urlpatterns = [
    path("health", core_views.health, name="health"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("accounts/", include("apps.accounts.urls")),
    path("notifications/", include("apps.notifications.urls")),
    path("audit/", include("apps.audit.urls")),
    path("inbox/", include("apps.inbox.urls")),
    path("whatsapp/", include("apps.whatsapp.urls")),
    path("knowledge/", include("apps.knowledge.urls")),
    path("ai/", include("apps.agents.urls")),
    path("store/", include("apps.store.urls")),
    path("overview/", include("apps.analytics.urls")),
    path("hooks/mercadopago/", include("apps.store.payments.urls")),
    path("", include("apps.core.urls")),
]
if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
