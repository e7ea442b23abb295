from django.urls import path

from . import views

app_name = "whatsapp"
urlpatterns = [
    path("connections/", views.connections, name="connections"),
    path("connections/add/", views.connection_add, name="connection-add"),
    path("connections/<int:pk>/card/", views.connection_card, name="connection-card"),
    path("connections/<int:pk>/qr/", views.connection_qr, name="connection-qr"),
    path("connections/<int:pk>/reconnect/", views.connection_reconnect, name="connection-reconnect"),
    path("connections/<int:pk>/refresh/", views.connection_refresh, name="connection-refresh"),
    path("connections/<int:pk>/disconnect/", views.connection_disconnect, name="connection-disconnect"),
    path("connections/<int:pk>/delete/", views.connection_delete, name="connection-delete"),
    path("connections/<int:pk>/settings/", views.connection_settings, name="connection-settings"),
    path("connections/<int:pk>/test/", views.connection_test, name="connection-test"),
    path("simulator/", views.simulator_page, name="simulator"),
    path("simulator/send/", views.simulator_send, name="simulator-send"),
    path("simulator/transcript/", views.simulator_transcript, name="simulator-transcript"),
    path("simulator/reset/", views.simulator_reset, name="simulator-reset"),
]
