"""Reads of the minimal CRM shared by pages, APIs and tasks."""
from __future__ import annotations

from django.db.models import Q

from . import phones
from .models import Contact, ContactIdentity, Tag


def contact_by_identifier(*, phone: str = "", wa_jid: str = "", lid: str = "", bsuid: str = "") -> Contact | None:
    from .services import _find, contact_identities_of
    from apps.whatsapp.providers.base import ContactRef

    pairs = contact_identities_of(ContactRef(phone=phone, wa_jid=wa_jid, lid=lid, bsuid=bsuid))
    return _find(pairs) if pairs else None


def contact_list(*, search: str = "", tag: Tag | None = None):
    qs = Contact.objects.prefetch_related("tags")
    if search:
        query = Q(name__icontains=search) | Q(push_name__icontains=search) | Q(email__icontains=search)
        number = phones.digits(search)
        if len(number) >= 4:
            query |= Q(phone__contains=number)
        qs = qs.filter(query)
    if tag is not None:
        qs = qs.filter(tags=tag)
    return qs


def contact_identifiers(contact: Contact) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for ident in ContactIdentity.objects.filter(contact=contact).order_by("kind", "id"):
        out.setdefault(ident.kind, []).append(ident.value)
    return out


def contact_recipient(contact: Contact, provider: str) -> str:
    """The address to send to: Evolution prefers the WhatsApp JID the person writes from (then the
    phone, then the LID); Cloud API the phone, else the business-scoped user id; sandbox the phone."""
    ids = contact_identifiers(contact)
    first = {kind: values[0] for kind, values in ids.items() if values}
    if provider == "evolution":
        order = [first.get("wa_jid"), contact.phone, first.get("phone"), first.get("lid")]
    elif provider == "cloud_api":
        order = [contact.phone, first.get("phone"), first.get("bsuid")]
    else:
        order = [contact.phone, first.get("phone"), first.get("wa_jid"), first.get("lid"), first.get("bsuid")]
    return next((value for value in order if value), "")


def tag_list():
    return Tag.objects.all()
