"""Human labels for ActionLog codes. Apps add theirs with ``register_action`` in ready()."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

ACTION_LABELS: dict[str, str] = {
    "conversation.assign": _("Assigned a conversation"),
    "bot.pause": _("Paused the bot"),
    "bot.resume": _("Resumed the bot"),
    "export": _("Exported data"),
    "impersonate": _("Signed in as another user"),
}


def register_action(code: str, label) -> None:
    ACTION_LABELS[code] = label


def action_label(code: str):
    return ACTION_LABELS.get(code, code)
