"""Canned replies: ready answers staff insert with "/shortcut" in the composer. Their variables
(``{{contact.name}}``, ``{{contact.phone}}``, ``{{agent.name}}``) are filled in on the server
when the message is sent, so the customer never sees a placeholder."""
from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from ..models import CannedReply

VARIABLE = re.compile(r"\{\{\s*(contact\.name|contact\.first_name|contact\.phone|agent\.name)\s*\}\}")
SHORTCUT_MAX = CannedReply._meta.get_field("shortcut").max_length
TEXT_MAX = 4096


def canned_render(text: str, *, conversation=None, contact=None, agent=None) -> str:
    """Fill in the known variables; unknown ``{{...}}`` stay as typed."""
    if not text or "{{" not in text:
        return text
    contact = contact or (conversation.contact if conversation is not None else None)

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name.startswith("contact.") and contact is None:
            return ""
        if name == "contact.name":
            return contact.name or contact.push_name or ""
        if name == "contact.first_name":
            return (contact.name or contact.push_name or "").split(" ")[0]
        if name == "contact.phone":
            return contact.phone
        if name == "agent.name":
            return agent.get_full_name() if agent is not None else ""
        return match.group(0)

    return VARIABLE.sub(value, text)


def _clean(shortcut: str, text: str, title: str) -> tuple[str, str, str]:
    shortcut = slugify((shortcut or "").strip().lstrip("/"))[:SHORTCUT_MAX]
    text = (text or "").strip()
    title = (title or "").strip()[:120]
    errors = {}
    if not shortcut:
        errors["shortcut"] = _("Enter a shortcut: letters, numbers, hyphens or underscores.")
    if not text:
        errors["text"] = _("Enter the reply text.")
    elif len(text) > TEXT_MAX:
        errors["text"] = _("Keep the reply under %(max)d characters.") % {"max": TEXT_MAX}
    if errors:
        raise ValidationError(errors)
    return shortcut, text, title


def _save(reply: CannedReply) -> CannedReply:
    try:
        with transaction.atomic():
            reply.save()
    except IntegrityError:
        raise ValidationError(
            {"shortcut": _("The shortcut /%(shortcut)s is already in use.") % {"shortcut": reply.shortcut}}
        ) from None
    return reply


def canned_reply_create(*, shortcut: str, text: str, title: str = "", by=None) -> CannedReply:
    shortcut, text, title = _clean(shortcut, text, title)
    return _save(CannedReply(shortcut=shortcut, text=text, title=title, created_by=by))


def canned_reply_update(*, reply: CannedReply, shortcut: str, text: str, title: str = "") -> CannedReply:
    reply.shortcut, reply.text, reply.title = _clean(shortcut, text, title)
    return _save(reply)


def canned_reply_delete(*, reply: CannedReply) -> None:
    reply.delete()
