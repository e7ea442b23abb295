"""The minimal CRM: one person is one Contact, however many WhatsApp identifiers they arrive with.
Pipelines, custom fields and the activity feed extend this later."""
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)
    color = models.CharField(_("colour"), max_length=7, default="#7C3AED")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Contact(models.Model):
    name = models.CharField(_("name"), max_length=120, blank=True)
    push_name = models.CharField(_("WhatsApp name"), max_length=120, blank=True)
    # Canonical E.164 ("+5511987654321"); Brazilian mobiles always carry the 9th digit here.
    phone = models.CharField(_("phone"), max_length=20, blank=True, db_index=True)
    email = models.EmailField(_("email"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    # What the business asks its customers beyond name and email (city, CPF, birthday...):
    # key -> text, written by staff or by the assistant's save_contact_data tool.
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)
    tags = models.ManyToManyField(Tag, related_name="contacts", blank=True, verbose_name=_("tags"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.name or self.push_name or self.phone or str(_("Unknown"))

    @property
    def initials(self) -> str:
        parts = [p for p in self.display_name.replace("+", "").split() if p]
        if not parts:
            return "?"
        return (parts[0][0] + (parts[1][0] if len(parts) > 1 else "")).upper()


class ContactIdentity(models.Model):
    """Every identifier a contact is known by, so that one person stays one contact.
    ``value`` is canonical per kind (see apps.crm.phones): phone = E.164 with the Brazilian 9th
    digit, wa_jid = "<digits>@s.whatsapp.net", lid = "<id>@lid", bsuid = the Cloud API user id."""

    class Kind(models.TextChoices):
        PHONE = "phone", _("Phone")
        WA_JID = "wa_jid", _("WhatsApp JID")
        LID = "lid", _("WhatsApp LID")
        BSUID = "bsuid", _("Cloud API user id")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("contact identifier")
        verbose_name_plural = _("contact identifiers")
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="crm_identity_unique")]

    def __str__(self):
        return f"{self.kind}:{self.value}"


class ContactNote(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="contact_notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    text = models.TextField(_("note"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
