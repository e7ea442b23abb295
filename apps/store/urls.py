from django.urls import path

from . import views

app_name = "store"

urlpatterns = [
    path("orders/", views.orders, name="orders"),
    path("products/", views.products, name="products"),
    path("customers/", views.customers, name="customers"),
    path("settings/", views.store_settings, name="settings"),
]
