from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("assistants", views.AssistantViewSet, basename="api-ai-assistant")
router.register("providers", views.ProviderViewSet, basename="api-ai-provider")
router.register("decisions", views.DecisionViewSet, basename="api-ai-decision")

urlpatterns = [
    path("usage/", views.UsageApi.as_view(), name="api-ai-usage"),
    path("", include(router.urls)),
]
