"""Writers of the minimal CRM. ``contact_resolve`` is how the message path finds (or creates) the
one contact behind whatever identifiers a provider sent."""
from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.db.models import Q

from . import phones
from .models import Contact, ContactIdentity, ContactNote, Tag

log = logging.getLogger(__name__)

Kind = ContactIdentity.Kind


def contact_identities_of(ref) -> list[tuple[str, str]]:
    """Canonical (kind, value) pairs of a ``ContactRef`` (phone and JID derive from each other)."""
    phone = phones.normalize_phone(ref.phone) if ref.phone else ""
    jid = phones.normalize_jid(ref.wa_jid) if ref.wa_jid else ""
    if not phone and jid:
        phone = phones.jid_to_phone(jid)
    if not jid and phone:
        jid = phones.phone_to_jid(phone)
    lid = phones.normalize_lid(ref.lid) if ref.lid else ""
    bsuid = (ref.bsuid or "").strip()[:120]
    pairs = [(Kind.PHONE, phone), (Kind.WA_JID, jid), (Kind.LID, lid), (Kind.BSUID, bsuid)]
    return [(kind, value) for kind, value in pairs if value]


def _find(pairs: list[tuple[str, str]]) -> Contact | None:
    query = Q()
    for kind, value in pairs:
        query |= Q(kind=kind, value=value)
    found = list(ContactIdentity.objects.filter(query).select_related("contact"))
    if found:
        # prefer the contact known by the phone number, then the oldest
        rank = {Kind.PHONE: 0, Kind.WA_JID: 1, Kind.BSUID: 2, Kind.LID: 3}
        found.sort(key=lambda ident: (rank.get(ident.kind, 9), ident.contact_id))
        return found[0].contact
    phone = next((value for kind, value in pairs if kind == Kind.PHONE), "")
    if phone:
        return Contact.objects.filter(phone__in=phones.phone_variants(phone)).order_by("id").first()
    return None


def contact_resolve(ref) -> Contact:
    """The contact for ``ref`` (an ``apps.whatsapp.providers.base.ContactRef``): found by any of
    its identifiers, or created. Every identifier not yet known is attached to it, the push name
    and a missing phone are updated. Safe when two workers resolve the same new person at once:
    the unique (kind, value) constraint lets one create it, the other retries and finds it."""
    pairs = contact_identities_of(ref)
    if not pairs:
        raise ValueError("a contact needs a phone, a WhatsApp id or a Cloud API user id")
    phone = next((value for kind, value in pairs if kind == Kind.PHONE), "")
    name = (ref.name or "").strip()[:120]
    for attempt in range(5):
        try:
            with transaction.atomic():
                contact = _find(pairs)
                if contact is None:
                    contact = Contact.objects.create(phone=phone, push_name=name)
                    # plain inserts: a concurrent creator makes this fail, and we retry to find theirs
                    ContactIdentity.objects.bulk_create(
                        [ContactIdentity(contact=contact, kind=kind, value=value) for kind, value in pairs])
                    return contact
                ContactIdentity.objects.bulk_create(
                    [ContactIdentity(contact=contact, kind=kind, value=value) for kind, value in pairs],
                    ignore_conflicts=True)  # identifiers of someone else stay theirs
                changed = []
                if name and contact.push_name != name:
                    contact.push_name = name
                    changed.append("push_name")
                if phone and not contact.phone:
                    contact.phone = phone
                    changed.append("phone")
                if changed:
                    contact.save(update_fields=[*changed, "updated_at"])
                return contact
        except IntegrityError:
            if attempt == 4:
                raise
            log.info("contact created concurrently; resolving again")
    raise AssertionError("unreachable")


_EDITABLE = {"name", "push_name", "phone", "email", "notes"}


def contact_update(contact: Contact, **fields) -> Contact:
    """Change a contact's editable fields; a phone is stored canonical and kept as an identifier."""
    unknown = set(fields) - _EDITABLE
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        if "phone" in fields and fields["phone"]:
            canonical = phones.normalize_phone(fields["phone"])
            if not canonical:
                from django.core.exceptions import ValidationError
                from django.utils.translation import gettext as _

                raise ValidationError({"phone": _("Enter a valid phone number.")})
            fields["phone"] = canonical
            ContactIdentity.objects.bulk_create(
                [ContactIdentity(contact=contact, kind=Kind.PHONE, value=canonical),
                 ContactIdentity(contact=contact, kind=Kind.WA_JID, value=phones.phone_to_jid(canonical))],
                ignore_conflicts=True)
        for key, value in fields.items():
            setattr(contact, key, value)
        contact.save(update_fields=[*fields, "updated_at"])
    return contact


def contact_set_custom(contact: Contact, values: dict[str, str]) -> Contact:
    """Merge ``values`` into the contact's custom fields (an empty value removes the key)."""
    merged = dict(contact.custom_fields or {})
    for key, value in values.items():
        if value in ("", None):
            merged.pop(key, None)
        else:
            merged[key] = value
    contact.custom_fields = merged
    contact.save(update_fields=["custom_fields", "updated_at"])
    return contact


def contact_add_note(contact: Contact, *, text: str, author=None) -> ContactNote:
    text = (text or "").strip()
    if not text:
        from django.core.exceptions import ValidationError
        from django.utils.translation import gettext as _

        raise ValidationError({"text": _("Write something first.")})
    return ContactNote.objects.create(contact=contact, text=text, author=author)


def tag_get_or_create(*, name: str, color: str = "") -> Tag:
    name = (name or "").strip()[:50]
    if not name:
        raise ValueError("a tag needs a name")
    tag, _created = Tag.objects.get_or_create(name=name, defaults={"color": color} if color else {})
    return tag


def tag_add(contact: Contact, tag: Tag) -> None:
    contact.tags.add(tag)


def tag_remove(contact: Contact, tag: Tag) -> None:
    contact.tags.remove(tag)


def tag_delete(tag: Tag) -> None:
    tag.delete()
