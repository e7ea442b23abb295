"""Forms of the inbox pages: the composer, the assignment and status actions, canned replies."""
from __future__ import annotations

import mimetypes

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from apps.accounts.forms import StyledMixin
from apps.accounts.models import Team

from .models import ConversationStatus, MessageType
from .selectors import assignable_agents
from .services.messages import ALLOWED_MIME_TYPES, type_for_mime

TEXT_MAX = 4096

# What WhatsApp accepts as media; the server checks the real bytes again when it stores the file
# (services.messages sniffs the content, whatever the browser claims).
ATTACHMENT_TYPES = sorted(ALLOWED_MIME_TYPES)


def attachment_max_bytes() -> int:
    return getattr(settings, "INBOX_ATTACHMENT_MAX_BYTES", 16 * 1024 * 1024)


def attachment_accept() -> str:
    """The ``accept`` attribute of the file input (the client-side half of the type check)."""
    return ",".join(ATTACHMENT_TYPES)


def attachment_mime(upload) -> str:
    """The type of an upload: what the browser said, or what its name implies when it said nothing
    useful (``application/octet-stream``)."""
    declared = (getattr(upload, "content_type", "") or "").split(";")[0].strip().lower()
    if declared in ALLOWED_MIME_TYPES:
        return declared
    guessed = (mimetypes.guess_type(upload.name or "")[0] or "").lower()
    return guessed if (not declared or declared == "application/octet-stream") else declared or guessed


def clean_attachment(upload) -> str:
    """Size and type of an attachment; returns the message type. Raises ValidationError."""
    if upload.size > attachment_max_bytes():
        raise forms.ValidationError(
            _("The file is too large (%(size)s). Attachments can be up to %(max)s.")
            % {"size": filesizeformat(upload.size), "max": filesizeformat(attachment_max_bytes())},
            code="too_large")
    if upload.size == 0:
        raise forms.ValidationError(_("The file is empty."), code="empty")
    mime = attachment_mime(upload)
    if mime not in ALLOWED_MIME_TYPES:
        raise forms.ValidationError(
            _("This type of file cannot be sent. Send an image (JPEG, PNG, WebP), audio (OGG, MP3, M4A), an MP4 "
              "video, a PDF, a Word or Excel file, or plain text."), code="bad_type")
    return type_for_mime(mime)


class ComposerForm(forms.Form):
    text = forms.CharField(required=False, max_length=TEXT_MAX, strip=False, widget=forms.Textarea)
    file = forms.FileField(required=False)

    def clean_text(self):
        return (self.cleaned_data.get("text") or "").strip()

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload:
            self.message_type = clean_attachment(upload)
        return upload

    def clean(self):
        data = super().clean()
        if not self.errors and not data.get("text") and not data.get("file"):
            raise forms.ValidationError(_("Type a message or attach a file."), code="empty")
        return data

    @property
    def type(self) -> str:
        return getattr(self, "message_type", MessageType.TEXT) if self.cleaned_data.get("file") else MessageType.TEXT


class TemplateSendForm(forms.Form):
    """A Cloud API template (the only message allowed once the 24-hour window has closed)."""

    template = forms.IntegerField()
    variables = forms.CharField(required=False, max_length=2000)


class AssignForm(forms.Form):
    """``assignee``: a user id, ``me``, or empty (no agent); ``team``: a team id or empty.
    Only the fields present in the POST change."""

    assignee = forms.CharField(required=False)
    team = forms.CharField(required=False)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_assignee(self):
        value = (self.cleaned_data.get("assignee") or "").strip()
        if value == "me":
            return self.user
        if not value:
            return None
        if not value.isdigit():
            raise forms.ValidationError(_("Choose an agent from the list."))
        agent = assignable_agents().filter(pk=int(value)).first()
        if agent is None:
            raise forms.ValidationError(_("This agent cannot answer conversations."))
        return agent

    def clean_team(self):
        value = (self.cleaned_data.get("team") or "").strip()
        if not value:
            return None
        team = Team.objects.filter(pk=int(value)).first() if value.isdigit() else None
        if team is None:
            raise forms.ValidationError(_("Choose a team from the list."))
        return team

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in ("assignee", "team") if name in self.data}


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=ConversationStatus.choices)


class CannedReplyForm(StyledMixin, forms.Form):
    """Validated again by ``services.canned`` (shortcut format and uniqueness), whose errors the
    view puts back on these fields."""

    shortcut = forms.CharField(label=_("Shortcut"), max_length=41,
                               help_text=_("Type / and this word in the composer."))
    title = forms.CharField(label=_("Title"), max_length=120, required=False)
    text = forms.CharField(label=_("Text"), max_length=TEXT_MAX, widget=forms.Textarea(attrs={"rows": 4}),
                           help_text=_("Variables: {{contact.name}}, {{contact.phone}}, {{agent.name}}"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["shortcut"].widget.attrs.update({"placeholder": _("e.g. hours"), "autocomplete": "off",
                                                     "spellcheck": "false", "autocapitalize": "none"})
