"""One person is one contact, whatever identifiers WhatsApp gives: phone with or without the
Brazilian 9th digit, JID, LID, Cloud API user id; and two workers creating the same new contact at
once still make one."""
from __future__ import annotations

import threading

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from apps.crm import phones
from apps.whatsapp.providers.base import ContactRef


@pytest.mark.parametrize("raw, expected", [
    ("+55 (11) 98765-4321", "+5511987654321"),
    ("5511987654321", "+5511987654321"),
    ("11 98765-4321", "+5511987654321"),
    ("+55 11 8765-4321", "+5511987654321"),  # old 8-digit mobile: the 9 is restored
    ("551187654321@s.whatsapp.net", "+5511987654321"),
    ("5511987654321:7@s.whatsapp.net", "+5511987654321"),
    ("+55 11 3333-4444", "+551133334444"),  # landline: no 9
    ("+1 (415) 555-2671", "+14155552671"),
    ("123456789@lid", ""),
    ("12345", ""),
])
def test_phone_normalization(raw, expected):
    assert phones.normalize_phone(raw) == expected


def test_variants_and_jids():
    assert phones.phone_variants("+5511987654321") == ["+5511987654321", "+551187654321"]
    assert phones.jid_variants("551187654321@s.whatsapp.net") == ["5511987654321@s.whatsapp.net",
                                                                  "551187654321@s.whatsapp.net"]
    assert phones.normalize_lid("123456789012345@lid") == "123456789012345@lid"
    assert phones.format_phone("+5511987654321") == "+55 11 98765-4321"


@pytest.fixture
def alpha(tenant):
    with schema_context(tenant.schema_name):
        yield tenant


def test_the_9th_digit_and_the_jid_find_the_same_contact(alpha):
    from apps.crm.services import contact_resolve

    first = contact_resolve(ContactRef(wa_jid="551187654321@s.whatsapp.net", name="Ana"))
    assert first.phone == "+5511987654321"
    assert contact_resolve(ContactRef(phone="+55 11 98765-4321")) == first
    assert contact_resolve(ContactRef(phone="+551187654321", name="Ana Souza")) == first
    first.refresh_from_db()
    assert first.push_name == "Ana Souza"


def test_a_lid_sender_with_its_phone_maps_to_the_existing_contact_and_keeps_every_id(alpha):
    from apps.crm.models import Contact
    from apps.crm.selectors import contact_by_identifier, contact_identifiers
    from apps.crm.services import contact_resolve

    phone_contact = contact_resolve(ContactRef(phone="+5521998887777", name="Bruno"))
    via_lid = contact_resolve(ContactRef(lid="98765432109876@lid", wa_jid="5521998887777@s.whatsapp.net"))
    assert via_lid == phone_contact
    assert contact_resolve(ContactRef(lid="98765432109876@lid")) == phone_contact  # the LID alone now
    assert contact_resolve(ContactRef(phone="+5521998887777", bsuid="BR.123abc")) == phone_contact
    assert contact_by_identifier(bsuid="BR.123abc") == phone_contact
    assert contact_identifiers(phone_contact) == {
        "bsuid": ["BR.123abc"], "lid": ["98765432109876@lid"], "phone": ["+5521998887777"],
        "wa_jid": ["5521998887777@s.whatsapp.net"]}
    assert Contact.objects.count() == 1


def test_a_contact_created_by_hand_is_found_by_its_phone(alpha):
    from apps.crm.models import Contact
    from apps.crm.services import contact_resolve, contact_update

    manual = Contact.objects.create(name="Carla", phone="+5531988776655")
    assert contact_resolve(ContactRef(wa_jid="553188776655@s.whatsapp.net")) == manual
    contact_update(manual, phone="(31) 9 8877-6655", name="Carla Dias")
    manual.refresh_from_db()
    assert (manual.name, manual.phone) == ("Carla Dias", "+5531988776655")


def test_contact_writers_validate(alpha):
    from django.core.exceptions import ValidationError

    from apps.crm.services import contact_add_note, contact_resolve, contact_update, tag_add, tag_get_or_create

    contact = contact_resolve(ContactRef(phone="+5511912345678"))
    with pytest.raises(ValidationError):
        contact_update(contact, phone="abc")
    with pytest.raises(ValueError):
        contact_update(contact, created_at=None)
    with pytest.raises(ValidationError):
        contact_add_note(contact, text="  ")
    assert contact_add_note(contact, text="Prefere entrega à tarde").text == "Prefere entrega à tarde"
    tag = tag_get_or_create(name="VIP")
    tag_add(contact, tag)
    assert list(contact.tags.all()) == [tag]
    with pytest.raises(ValueError):
        contact_resolve(ContactRef(name="nobody"))


def test_two_workers_resolving_the_same_new_person_make_one_contact(django_db_setup, django_db_blocker):
    """Real concurrency: committed rows, 8 threads with their own database connections."""
    from django.db import connections

    from apps.crm.models import Contact, ContactIdentity
    from apps.crm.services import contact_resolve

    phone = "+5548991234567"
    results, errors = [], []
    barrier = threading.Barrier(8)

    def worker():
        try:
            with schema_context("alpha"):
                barrier.wait(timeout=10)
                results.append(contact_resolve(ContactRef(phone=phone, name="Dani")).pk)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    with django_db_blocker.unblock():
        try:
            threads = [threading.Thread(target=worker) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
            assert not errors, errors
            assert len(set(results)) == 1
            with schema_context("alpha"):
                assert Contact.objects.filter(phone=phone).count() == 1
        finally:
            with schema_context("alpha"):
                ContactIdentity.objects.filter(contact__phone=phone).delete()
                Contact.objects.filter(phone=phone).delete()
            connection.set_schema_to_public()


def test_contacts_of_one_tenant_are_invisible_to_another(tenant, other_tenant):
    from apps.crm.models import Contact
    from apps.crm.services import contact_resolve

    with schema_context("alpha"):
        alpha_contact = contact_resolve(ContactRef(phone="+5511955554444", name="Só Alpha"))
    with schema_context("beta"):
        assert not Contact.objects.filter(phone="+5511955554444").exists()
        beta_contact = contact_resolve(ContactRef(phone="+5511955554444"))
        assert beta_contact.push_name == ""
    with schema_context("alpha"):
        alpha_contact.refresh_from_db()
        assert alpha_contact.push_name == "Só Alpha"
