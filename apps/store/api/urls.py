from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("products", views.ProductViewSet, basename="api-store-product")
router.register("categories", views.CategoryViewSet, basename="api-store-category")
router.register("orders", views.OrderViewSet, basename="api-store-order")
router.register("customers", views.CustomerViewSet, basename="api-store-customer")
router.register("zones", views.ZoneViewSet, basename="api-store-zone")

urlpatterns = [
    path("", include(router.urls)),
]
