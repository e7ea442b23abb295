from django.urls import path

from . import views

urlpatterns = [
    path("", views.NotificationListApi.as_view(), name="api-notification-list"),
    path("read/", views.NotificationReadApi.as_view(), name="api-notification-read"),
]
