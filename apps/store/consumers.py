"""The store socket (``ws/store/``): announces ``order.placed`` and ``order.updated`` of the socket's
own tenant (``{"type": <event>, **payload}``, payload as documented in apps/store/events.py) to
staff who may sell (``store.sell``). Announcements only: the Vendas page re-reads the order from the
database, and re-reads the list after a reconnect."""
from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from tenants.channels import CLOSE_BLOCKED as CLOSE_FORBIDDEN
from tenants.channels import refusal

from . import events


class StoreConsumer(AsyncJsonWebsocketConsumer):
    group_name: str | None = None

    async def connect(self):
        from apps.accounts.roles import user_can

        code = refusal(self.scope)
        if code is not None:
            await self.close(code=code)
            return
        if not user_can(self.scope["user"], "store.sell"):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        # the group carries the schema: a socket only ever joins its own tenant's store
        self.group_name = events.store_group(self.scope["tenant"].schema_name)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.group_name:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def store_event(self, event):
        name, data = event.get("event"), event.get("data") or {}
        if not name:
            return
        await self.send_json({**data, "type": name})
