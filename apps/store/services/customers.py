"""What the store adds to CRM contacts: the customer profile (document number, customer since) and
delivery addresses. The contact itself stays the CRM's (apps.crm.services)."""
from __future__ import annotations

import re
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from apps.crm import phones
from apps.crm.models import Contact
from apps.store.models import Address, CustomerProfile


def customer_profile_for(contact: Contact) -> CustomerProfile:
    profile, _created = CustomerProfile.objects.get_or_create(contact=contact)
    return profile


def customer_mark_ordered(contact: Contact, day: date) -> None:
    """``customer_since`` = the day of the customer's first placed order (kept the earliest)."""
    profile = customer_profile_for(contact)
    if profile.customer_since is None or day < profile.customer_since:
        CustomerProfile.objects.filter(pk=profile.pk).update(customer_since=day)


def customer_find_or_create(*, name: str = "", phone: str = "") -> Contact:
    """The contact with this phone (any known form of it) or a new one; for counter and phone
    orders where staff type a name and/or a phone. A name alone always makes a new contact."""
    from apps.crm.services import contact_resolve
    from apps.whatsapp.providers.base import ContactRef

    name = " ".join((name or "").split())[:120]
    phone = (phone or "").strip()
    if phone:
        canonical = phones.normalize_phone(phone)
        if not canonical:
            raise ValidationError({"phone": [_("Enter a valid phone number.")]})
        contact = contact_resolve(ContactRef(phone=canonical))
        if name and not contact.name:
            contact.name = name
            contact.save(update_fields=["name", "updated_at"])
    elif name:
        contact = Contact.objects.create(name=name)
    else:
        raise ValidationError({"name": [_("Enter the customer's name or phone.")]})
    customer_profile_for(contact)
    return contact


_DOCUMENT = re.compile(r"^\d{11}$|^\d{14}$")


def customer_update(contact: Contact, *, document_number: str | None = None) -> CustomerProfile:
    """Store fields of the customer (the name, phone and e-mail are the CRM's contact_update)."""
    profile = customer_profile_for(contact)
    if document_number is not None:
        digits = re.sub(r"\D", "", document_number)
        if digits and not _DOCUMENT.match(digits):
            raise ValidationError({"document_number": [_("Enter a CPF (11 digits) or a CNPJ (14 digits).")]})
        profile.document_number = digits
        profile.save(update_fields=["document_number"])
    return profile


_ADDRESS_FIELDS = {"label", "street", "number", "complement", "neighbourhood", "city", "zip_code", "reference",
                   "is_default"}
_LIMITS = {"label": 40, "street": 160, "number": 20, "complement": 80, "neighbourhood": 100, "city": 100,
           "zip_code": 10, "reference": 160}


def _clean_address(values: dict, *, creating: bool) -> dict:
    unknown = set(values) - _ADDRESS_FIELDS
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    cleaned, errors = {}, {}
    for key, value in values.items():
        if key == "is_default":
            cleaned[key] = bool(value)
            continue
        text = " ".join(str(value or "").split())
        if len(text) > _LIMITS[key]:
            errors[key] = [_("Use at most %(limit)s characters.") % {"limit": _LIMITS[key]}]
        cleaned[key] = text
    for required in ("street", "neighbourhood"):
        if (creating or required in values) and not cleaned.get(required):
            errors[required] = [_("This field is required.")]
    if errors:
        raise ValidationError(errors)
    return cleaned


def address_create(contact: Contact, **fields) -> Address:
    cleaned = _clean_address(fields, creating=True)
    with transaction.atomic():
        first = not Address.objects.filter(contact=contact).exists()
        cleaned["is_default"] = cleaned.get("is_default", False) or first
        if cleaned["is_default"]:
            Address.objects.filter(contact=contact, is_default=True).update(is_default=False)
        return Address.objects.create(contact=contact, **cleaned)


def address_update(address: Address, **fields) -> Address:
    cleaned = _clean_address(fields, creating=False)
    with transaction.atomic():
        if cleaned.get("is_default"):
            Address.objects.filter(contact_id=address.contact_id, is_default=True).exclude(pk=address.pk).update(
                is_default=False)
        for key, value in cleaned.items():
            setattr(address, key, value)
        if cleaned:
            address.save(update_fields=list(cleaned))
    return address


def address_delete(address: Address) -> None:
    with transaction.atomic():
        was_default = address.is_default
        contact_id = address.contact_id
        address.delete()
        if was_default:
            nxt = Address.objects.filter(contact_id=contact_id).order_by("-created_at", "-id").first()
            if nxt:
                Address.objects.filter(pk=nxt.pk).update(is_default=True)
