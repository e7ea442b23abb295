from django.urls import path

from . import views

urlpatterns = [
    path("connections/", views.ConnectionListCreateApi.as_view(), name="api-connections"),
    path("connections/<int:pk>/", views.ConnectionDetailApi.as_view(), name="api-connection"),
    path("connections/<int:pk>/qr/", views.ConnectionQrApi.as_view(), name="api-connection-qr"),
    path("connections/<int:pk>/status/", views.ConnectionStatusApi.as_view(), name="api-connection-status"),
    path("connections/<int:pk>/reconnect/", views.ConnectionReconnectApi.as_view(), name="api-connection-reconnect"),
    path("connections/<int:pk>/disconnect/", views.ConnectionDisconnectApi.as_view(),
         name="api-connection-disconnect"),
    path("connections/<int:pk>/test/", views.ConnectionTestApi.as_view(), name="api-connection-test"),
]
