"""Test data for the inbox page, API, socket and assignment tests, made through the models in the
current schema (callers wrap in ``schema_context``)."""
from __future__ import annotations

import itertools
from datetime import timedelta

from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from conftest import host_of

_phones = itertools.count(1000)


def make_connection(name="Loja", provider="sandbox"):
    from apps.whatsapp.services.connections import connection_create

    return connection_create(name=name, provider=provider)


def make_contact(name="Maria Souza", phone=None, tags=()):
    from apps.crm.models import Contact, Tag

    contact = Contact.objects.create(name=name, phone=phone or f"+55119{next(_phones):08d}")
    for tag in tags:
        contact.tags.add(Tag.objects.get_or_create(name=tag)[0])
    return contact


def make_conversation(*, connection=None, contact=None, **fields):
    from apps.inbox.models import Conversation

    connection = connection or make_connection()
    contact = contact or make_contact()
    fields.setdefault("last_message_at", timezone.now())
    return Conversation.objects.create(contact=contact, connection=connection, **fields)


def add_message(conversation, text="Oi, vocês entregam?", *, direction="in", sender_kind="contact", user=None,
                status=None, minutes_ago=0, **fields):
    from apps.inbox.models import Conversation, Message

    at = timezone.now() - timedelta(minutes=minutes_ago)
    message = Message.objects.create(
        conversation=conversation, direction=direction, sender_kind=sender_kind, sender_user=user, text=text,
        status=status or ("received" if direction == "in" else "sent"), created_at=at, **fields)
    Conversation.objects.filter(pk=conversation.pk).update(last_message_at=at, last_message_preview=text[:200])
    return message


def login(tenant, user) -> Client:
    client = Client(HTTP_HOST=host_of(tenant))
    with schema_context(tenant.schema_name):
        client.force_login(user)
    return client
