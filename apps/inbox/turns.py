"""The turn hook: what runs when a conversation's debounce window closes.

A handler is any object with ``name`` and ``handle(turn) -> bool``; ``turn`` is an
``apps.inbox.models.Turn`` whose ``messages`` are the customer messages of this turn, in order.
Handlers are asked in registration order (the flow engine registers before the AI assistant);
the first that returns True owns the turn. With none registered, or none taking it, nothing is
sent and the turn is recorded as skipped. Handlers send replies through
``apps.inbox.services`` (the outbound path), never the provider directly.
"""
from __future__ import annotations

from typing import Protocol


class TurnHandler(Protocol):
    name: str

    def handle(self, turn) -> bool: ...


_HANDLERS: list[TurnHandler] = []


def register_turn_handler(handler: TurnHandler, *, first: bool = False) -> None:
    if any(h.name == handler.name for h in _HANDLERS):
        return
    if first:
        _HANDLERS.insert(0, handler)
    else:
        _HANDLERS.append(handler)


def unregister_turn_handler(name: str) -> None:
    _HANDLERS[:] = [h for h in _HANDLERS if h.name != name]


def turn_handlers() -> list[TurnHandler]:
    return list(_HANDLERS)


# Hooks called when the sweep returns a conversation to the bot on its own (the due time passed):
# ``hook(conversation, previous_state)``, inside the transaction that holds the conversation's
# lock, so whatever a hook sends happens exactly once per return. The AI assistant registers
# one that sends its "I'm back" message and emails the team about customers nobody answered.
_RESUME_HOOKS: list = []


def register_resume_hook(hook) -> None:
    if hook not in _RESUME_HOOKS:
        _RESUME_HOOKS.append(hook)


def resume_hooks() -> list:
    return list(_RESUME_HOOKS)
