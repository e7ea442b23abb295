from django.urls import path

from .consumers import StoreConsumer

websocket_urlpatterns = [
    path("ws/store/", StoreConsumer.as_asgi()),
]
