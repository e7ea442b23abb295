"""The tool registry: what an assistant may do besides talking.

A ``Tool`` has a name, a description and JSON-schema ``parameters`` for the model, a translated
``label`` for the assistant form, and ``run(context, arguments) -> dict`` that does the work
through services and returns a JSON-able result the model reads. The pipeline offers the model
only the assistant's enabled tools, validates each call's arguments against the schema before
running it, refuses names outside that allowlist, and tells the model why in the tool result.
Other apps add tools in their AppConfig.ready() (the store's ordering tools, #5).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ToolContext:
    """What a tool may touch: the turn's conversation (and its contact), the assistant, the decision
    being logged. ``notes`` collects what happened for the decision log; a tool that hands off sets
    ``handed_off`` so the pipeline sends no further reply."""

    conversation: Any
    assistant: Any
    turn: Any = None
    decision: Any = None
    notes: list[str] = field(default_factory=list)
    handed_off: bool = False
    handoff_reason: str = ""
    # An ordering tool's card for staff ({"order_id", "card", "order"}): the reply carries it.
    order_card: dict | None = None


@dataclass(frozen=True)
class Tool:
    name: str
    description: str  # for the model, in English
    parameters: dict  # JSON schema of the arguments object
    run: Callable[[ToolContext, dict], dict]
    label: Any = ""  # lazy gettext, shown on the assistant form
    default_enabled: bool = True

    def spec(self) -> dict:
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}


_REGISTRY: dict[str, Tool] = {}


def register_tool(tool: Tool) -> None:
    _REGISTRY[tool.name] = tool


def get_tool(name: str) -> Tool | None:
    return _REGISTRY.get(name)


def all_tools() -> list[Tool]:
    return sorted(_REGISTRY.values(), key=lambda t: t.name)


def default_tool_names() -> list[str]:
    return [t.name for t in all_tools() if t.default_enabled]


# The built-in tools (handoff_to_human, save_contact_data, business_hours) register themselves here.
from . import builtin_tools  # noqa: E402,F401
