"""The bell's socket: announces new notifications and unread-count changes to their recipient."""
from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from tenants.channels import CLOSE_BLOCKED, CLOSE_NO_TENANT, CLOSE_UNAUTHENTICATED, refusal  # noqa: F401

from . import events


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    """``ws/notifications/``. The tenant and user come from ``tenants.channels.TenantAuthMiddleware``;
    the socket joins only its own user's group in its own tenant. It carries announcements only:
    after a reconnect the page re-reads the count over HTTP."""

    group_name: str | None = None

    async def connect(self):
        code = refusal(self.scope)
        if code is not None:
            await self.close(code=code)
            return
        self.group_name = events.user_group(self.scope["tenant"].schema_name, self.scope["user"].pk)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.group_name:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive_json(self, content, **kwargs):
        """The client has nothing to say; a ping gets a pong so it can check the line."""
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def notification_created(self, event):
        await self.send_json({"type": events.NOTIFICATION_CREATED, **event["data"]})

    async def notification_read(self, event):
        await self.send_json({"type": events.NOTIFICATION_READ, **event["data"]})
