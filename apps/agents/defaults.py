"""Default texts of an assistant, per tone (pt-BR through the catalogs). A blank message field on
an assistant means "use the default for its tone"; the form shows these as placeholders."""
from __future__ import annotations

from django.utils.translation import gettext as _

MESSAGE_FIELDS = ("greeting_message", "fallback_message", "wait_message", "return_message",
                  "outside_hours_message")


def default_messages(tone: str) -> dict[str, str]:
    if tone == "formal":
        return {
            "greeting_message": _("Good day! Thank you for contacting us. How may I help you?"),
            "fallback_message": _("I do not have that information. I am forwarding you to a member of our "
                                  "team, who will answer shortly."),
            "wait_message": _("One moment, please."),
            "return_message": _("Hello again. Our virtual assistant is available to help you. How may I assist?"),
            "outside_hours_message": _("We are outside business hours at the moment. Our team will answer as "
                                       "soon as we open."),
        }
    if tone == "technical":
        return {
            "greeting_message": _("Hello! I am the virtual assistant. Tell me what you need and I will check."),
            "fallback_message": _("I could not find a reliable answer to that. A specialist from our team will "
                                  "take over the conversation."),
            "wait_message": _("Checking, one moment."),
            "return_message": _("The virtual assistant is back on this conversation. What do you need?"),
            "outside_hours_message": _("Our team is offline right now; your message is recorded and will be "
                                       "answered when we open."),
        }
    return {
        "greeting_message": _("Hi! 😊 How can I help you today?"),
        "fallback_message": _("Hmm, I'm not sure about that. I'll call someone from our team to help you, "
                              "just a moment!"),
        "wait_message": _("Just a moment, please!"),
        "return_message": _("Hi again! I'm back to help you. Anything you need?"),
        "outside_hours_message": _("We're closed right now, but we'll answer you as soon as we open!"),
    }


def message_for(assistant, field: str) -> str:
    """The assistant's own text for ``field``, or the default of its tone."""
    own = (getattr(assistant, field, "") or "").strip() if assistant is not None else ""
    return own or default_messages(getattr(assistant, "tone", "casual"))[field]
