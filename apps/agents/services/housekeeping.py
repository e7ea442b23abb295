"""Hand-back after the 24 h rule, the pending-customer email, message retention."""
from __future__ import annotations


def on_bot_returned(conversation, previous_state: str) -> None:
    """Resume hook (apps.inbox.turns.register_resume_hook)."""
