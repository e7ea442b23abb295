from django.urls import path

from . import views

app_name = "mercadopago"

urlpatterns = [
    path("", views.webhook, name="webhook"),
]
