"""WebSocket routes; each app appends its own."""
from apps.notifications.routing import websocket_urlpatterns as notification_ws

from apps.inbox.routing import websocket_urlpatterns as inbox_ws
from apps.store.routing import websocket_urlpatterns as store_ws

websocket_urlpatterns = [*notification_ws, *inbox_ws, *store_ws]
