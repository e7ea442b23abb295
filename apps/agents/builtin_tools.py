"""The built-in tools: handoff_to_human, save_contact_data, business_hours.

Each returns a JSON-able dict the model reads. Arguments arrive already validated against the
tool's JSON schema (the pipeline refuses invalid ones before ``run``); what a schema cannot say
(a well-formed email) is checked here and reported back to the model as an error field.
"""
from __future__ import annotations

import zoneinfo
from datetime import datetime, time

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .tools import Tool, ToolContext, register_tool

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


# --- business hours (also used by the pipeline for the outside-hours message) --------------------

def _parse(value: str) -> time | None:
    try:
        hours, minutes = str(value).strip().split(":")
        hours, minutes = int(hours), int(minutes)
    except (ValueError, AttributeError):
        return None
    if hours == 24 and minutes == 0:
        return time(23, 59, 59, 999999)
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        return None
    return time(hours, minutes)


def _ranges(assistant, weekday: int) -> list[tuple[time, time]]:
    hours = assistant.business_hours if isinstance(assistant.business_hours, dict) else {}
    out = []
    for pair in hours.get(str(weekday)) or []:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            continue
        start, end = _parse(pair[0]), _parse(pair[1])
        if start is not None and end is not None:
            out.append((start, end))
    return out


def assistant_zone(assistant) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(assistant.time_zone or "America/Sao_Paulo")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("America/Sao_Paulo")


def hours_configured(assistant) -> bool:
    return any(_ranges(assistant, day) for day in range(7))


def is_open(assistant, now: datetime | None = None) -> bool:
    """Open at ``now`` in the assistant's time zone. No hours configured at all = always open (an
    empty schedule means "not set", not "never open"). A range whose end is before its start runs
    past midnight."""
    if not hours_configured(assistant):
        return True
    local = (now or timezone.now()).astimezone(assistant_zone(assistant))
    moment = local.time()
    for start, end in _ranges(assistant, local.weekday()):
        if start <= end and start <= moment < end:
            return True
        if start > end and moment >= start:
            return True
    yesterday = (local.weekday() - 1) % 7
    return any(start > end and moment < end for start, end in _ranges(assistant, yesterday))


def hours_summary(assistant) -> dict[str, list[str]]:
    hours = assistant.business_hours if isinstance(assistant.business_hours, dict) else {}
    out = {}
    for day, name in enumerate(WEEKDAYS):
        pairs = [f"{p[0]}-{p[1]}" for p in (hours.get(str(day)) or []) if isinstance(p, (list, tuple)) and len(p) == 2]
        out[name] = pairs or ["closed"]
    return out


def business_hours_run(context: ToolContext, arguments: dict) -> dict:
    assistant = context.assistant
    local = timezone.now().astimezone(assistant_zone(assistant))
    if not hours_configured(assistant):
        return {"configured": False, "open_now": True, "time_zone": str(assistant_zone(assistant)),
                "now_local": local.strftime("%A %Y-%m-%d %H:%M")}
    return {"configured": True, "open_now": is_open(assistant), "time_zone": str(assistant_zone(assistant)),
            "now_local": local.strftime("%A %Y-%m-%d %H:%M"), "hours": hours_summary(assistant)}


# --- hand-off --------------------------------------------------------------------------------------

def handoff_run(context: ToolContext, arguments: dict) -> dict:
    """Marks the turn as handed off; the pipeline does the hand-off itself (state, team, notices)
    when the turn ends, in the same transaction as the last message to the customer."""
    reason = " ".join(str(arguments.get("reason") or "").split())[:150]
    context.handed_off = True
    context.handoff_reason = reason  # read by the pipeline
    context.notes.append(f"handoff: {reason}")
    return {"ok": True, "handed_off": True,
            "note": "A human from the team will take over. Do not call more tools; end the conversation politely."}


# --- contact data ----------------------------------------------------------------------------------

CONTACT_FIELDS = ("name", "email")  # straight onto the contact
MAX_VALUE_CHARS = 200


def save_contact_data_run(context: ToolContext, arguments: dict) -> dict:
    """Known fields go onto the contact (name, email); everything else (city and any key the
    business uses) goes into the contact's custom fields. Everything saved is also written in the
    contact's history as an activity note, which is where staff see what the assistant did."""
    from apps.crm.services import contact_add_note, contact_set_custom, contact_update

    fields = arguments.get("fields") or {}
    contact = context.conversation.contact
    updates: dict[str, str] = {}
    extra: dict[str, str] = {}
    errors: dict[str, str] = {}
    for key, raw in fields.items():
        key = " ".join(str(key).split())[:40]
        value = " ".join(str(raw).split())[:MAX_VALUE_CHARS] if not isinstance(raw, bool) else ("yes" if raw else "no")
        if not key or not value:
            continue
        lowered = key.lower()
        if lowered == "email":
            try:
                validate_email(value)
            except ValidationError:
                errors["email"] = "not a valid email address; ask the customer to check it"
                continue
            updates["email"] = value.lower()
        elif lowered == "name":
            updates["name"] = value[:120]
        else:
            extra[lowered] = value
    saved = {**updates, **extra}
    if updates:
        contact_update(contact, **updates)
    if extra:
        contact_set_custom(contact, extra)
    if saved:
        lines = [f"{k}: {v}" for k, v in saved.items()]
        contact_add_note(contact, text=_("Saved by the AI assistant:") + "\n" + "\n".join(lines))
        context.notes.append("contact data: " + ", ".join(saved))
    result: dict = {"ok": not errors, "saved": sorted(saved)}
    if errors:
        result["errors"] = errors
    return result


register_tool(Tool(
    name="handoff_to_human",
    description=("Hand the conversation to a human from the team. Use when the customer asks for a person, "
                 "or when the answer is not in the context or tool results."),
    parameters={"type": "object",
                "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 300,
                                          "description": "Why a human is needed, in a few words."}},
                "required": ["reason"], "additionalProperties": False},
    run=handoff_run,
    label=gettext_lazy("Hand off to a human"),
))

register_tool(Tool(
    name="save_contact_data",
    description=("Save data the customer gave about themselves (name, email, city, or other details the "
                 "business asked for) to their contact record."),
    parameters={"type": "object",
                "properties": {"fields": {
                    "type": "object", "minProperties": 1, "maxProperties": 20,
                    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 120},
                                   "email": {"type": "string", "minLength": 3, "maxLength": 254},
                                   "city": {"type": "string", "minLength": 1, "maxLength": 120}},
                    "additionalProperties": {"type": ["string", "number", "boolean"]},
                    "propertyNames": {"maxLength": 40},
                }},
                "required": ["fields"], "additionalProperties": False},
    run=save_contact_data_run,
    label=gettext_lazy("Save contact data"),
))

register_tool(Tool(
    name="business_hours",
    description="The business's opening hours, its time zone, and whether it is open right now.",
    parameters={"type": "object", "properties": {}, "additionalProperties": False},
    run=business_hours_run,
    label=gettext_lazy("Business hours"),
))
