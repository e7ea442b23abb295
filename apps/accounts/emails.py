"""Emails the accounts app sends, rendered in the recipient's language."""
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django_tenants.utils import tenant_context

from apps.core.urls_util import tenant_absolute_url

from .models import Invitation


def invitation_link(invitation: Invitation, tenant) -> str:
    return tenant_absolute_url(tenant, reverse("accounts:invitation-accept", args=[invitation.token]))


def send_invitation_email(invitation_id: int, *, tenant=None) -> None:
    """The invitation with its accept link on the company's domain, in the company's language."""
    tenant = tenant if tenant is not None else connection.tenant
    with tenant_context(tenant):
        invitation = Invitation.objects.select_related("invited_by", "team").get(pk=invitation_id)
        link = invitation_link(invitation, tenant)
        with translation.override(tenant.language):
            context = {"invitation": invitation, "tenant": tenant, "link": link}
            subject = render_to_string("accounts/email/invitation_subject.txt", context).strip()
            body = render_to_string("accounts/email/invitation.txt", context)
        EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [invitation.email],
                     headers={"Content-Language": tenant.language}).send()
