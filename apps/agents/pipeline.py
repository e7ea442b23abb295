"""The AI turn: implements the inbox turn hook (apps.inbox.turns)."""
from __future__ import annotations


class AssistantTurnHandler:
    name = "ai"

    def handle(self, turn) -> bool:
        return False
