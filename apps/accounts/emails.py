"""Emails the accounts app sends, rendered in the recipient's language."""
from django.conf import settings
from django.core.mail import send_mail
from django.db import connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from apps.core.urls_util import tenant_absolute_url

from .models import Invitation


def send_invitation_email(invitation_id: int) -> None:
    invitation = Invitation.objects.select_related("invited_by").get(pk=invitation_id)
    tenant = connection.tenant
    link = tenant_absolute_url(tenant, reverse("accounts:invitation-accept", args=[invitation.token]))
    with translation.override(tenant.language):
        context = {"invitation": invitation, "tenant": tenant, "link": link}
        subject = render_to_string("accounts/email/invitation_subject.txt", context).strip()
        body = render_to_string("accounts/email/invitation.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [invitation.email])
