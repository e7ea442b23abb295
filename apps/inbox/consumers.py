"""The inbox socket (``ws/inbox/``): announces ``message.created``, ``message.updated``,
``conversation.updated`` and ``connection.updated`` of the socket's own tenant to staff who may
use the inbox (``{"type": <event>, **data}``; a message's own type travels as ``message_type``),
and only about conversations the user may see (the rule of ``selectors.conversation_visible_to``,
applied to the assignee and team each event carries). Announcements only: the page re-reads what
changed, and re-reads everything since its last message after a reconnect."""
from __future__ import annotations

import time

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from tenants.channels import CLOSE_BLOCKED as CLOSE_FORBIDDEN
from tenants.channels import CLOSE_NO_TENANT, CLOSE_UNAUTHENTICATED, refusal, run_in_tenant  # noqa: F401

from . import events

TEAMS_TTL = 60.0  # seconds the user's team ids are trusted
CACHE_MAX = 2000


def _team_ids(user_id: int) -> set[int]:
    from .selectors import user_team_ids

    return user_team_ids(user_id)


class InboxConsumer(AsyncJsonWebsocketConsumer):
    group_name: str | None = None

    async def connect(self):
        from .selectors import inbox_can_access
        from apps.accounts.roles import user_can

        code = refusal(self.scope)
        if code is not None:
            await self.close(code=code)
            return
        tenant, user = self.scope["tenant"], self.scope["user"]
        if not inbox_can_access(user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.tenant = tenant
        self.user = user
        self.view_all = user_can(user, "conversations.view_all")
        self.owners: dict[int, tuple[int | None, int | None]] = {}
        self.teams: set[int] = set()
        self.teams_at = 0.0
        if not self.view_all:
            await self._refresh_teams()
        self.group_name = events.inbox_group(tenant.schema_name)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.group_name:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    # --- who hears what -----------------------------------------------------------------------

    async def _refresh_teams(self) -> None:
        self.teams = await run_in_tenant(self.tenant, _team_ids, self.user.pk)
        self.teams_at = time.monotonic()

    def _visible(self, assignee_id, team_id) -> bool:
        if assignee_id == self.user.pk:
            return True
        if team_id is not None:
            return team_id in self.teams
        return assignee_id is None

    def _remember(self, conversation_id: int, assignee_id, team_id) -> None:
        if len(self.owners) >= CACHE_MAX:
            self.owners.clear()
        self.owners[conversation_id] = (assignee_id, team_id)

    async def _may_see(self, name: str, data: dict) -> bool:
        if self.view_all or name == events.CONNECTION_UPDATED:
            return True
        if time.monotonic() - self.teams_at > TEAMS_TTL:
            await self._refresh_teams()
        # every conversation and message event carries its conversation's assignee and team
        assignee_id, team_id = data.get("assignee_id"), data.get("team_id")
        if name == events.CONVERSATION_UPDATED:
            conversation_id = data.get("id")
            before = self.owners.get(conversation_id)
            self._remember(conversation_id, assignee_id, team_id)
            # also tell whoever could see it until now, so their list drops it
            return self._visible(assignee_id, team_id) or (before is not None and self._visible(*before))
        conversation_id = data.get("conversation_id")
        if conversation_id is None:
            return False
        if not self._visible(assignee_id, team_id):
            return False
        # what this user last knew of the conversation: a later reassignment tells them once
        self._remember(conversation_id, assignee_id, team_id)
        return True

    async def inbox_event(self, event):
        name, data = event.get("event"), event.get("data") or {}
        if not name or not await self._may_see(name, data):
            return
        payload = dict(data)
        if "type" in payload:  # a message's own type ("text", "image"...) must not hide the event's name
            payload["message_type"] = payload.pop("type")
        payload["type"] = name
        await self.send_json(payload)
