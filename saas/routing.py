"""WebSocket routes; each app appends its own."""
from apps.notifications.routing import websocket_urlpatterns as notification_ws

websocket_urlpatterns = [*notification_ws]
