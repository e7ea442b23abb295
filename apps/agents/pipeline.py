"""The AI turn: implements the inbox turn hook (apps.inbox.turns). The work is in
``apps.agents.services.turn``; this is the registered handler."""
from __future__ import annotations


class AssistantTurnHandler:
    name = "ai"

    def handle(self, turn) -> bool:
        """True when the assistant took the turn (answered, handed off, or failed into a hand-off);
        False when it stayed out (no assistant, bot not active, tenant blocked, a flow's turn), so
        the turn is recorded as skipped. Every call logs a decision."""
        from .services.turn import turn_handle

        return turn_handle(turn)
