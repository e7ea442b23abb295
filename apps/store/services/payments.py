"""Pix through Mercado Pago: charging an order and applying what Mercado Pago says about it.

``pix_for_order`` creates the charge (one per order and amount: the idempotency key is derived from
them, so a repeated or concurrent call gets the same payment back from Mercado Pago and the unique
``Payment.idempotency_key`` keeps one row), stores it, and sends the QR image and the copy-and-paste
code in the order's conversation. Nothing is written before Mercado Pago has answered, so a refusal
or an outage leaves no half state: no Payment, no message, the order as it was.

``payment_notification`` is the webhook's service: it checks the ``x-signature`` with the tenant's
webhook secret, then reads the payment back from the API with the tenant's own token (the body is
never trusted: it only says "look at payment N"), and ``payment_apply`` records the status. An
approved payment marks the order paid exactly once (the Payment row is locked and ``paid_at`` is the
guard) and tells the customer in the chat and the staff in their notifications.

A Pix that expires unpaid cannot be paid any more: ``pix_for_order`` stores the expiry (plus a grace
period for late notifications) as the order's ``cart_cancel_due_at``, and the store sweep
(``services/jobs.py``) cancels the order then, returning its reserved stock.

Texts for the customer are in the tenant's language; staff notifications too (they go to several
people at once).
"""
from __future__ import annotations

import base64
import binascii
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.core.templatetags.money import format_money

from ..errors import StoreError
from ..models import Order, OrderEvent, OrderStatus, Payment, PaymentMethod, PaymentStatus, StoreSettings
from ..payments.mercadopago import (GatewayAuthError, GatewayError, GatewayNotFound, GatewayRejected,
                                    GatewayTemporaryError, MercadoPagoClient, PixCharge, verify_signature)

log = logging.getLogger(__name__)

PROVIDER = "mercadopago"
# Mercado Pago may notify a payment made in the last seconds of its validity a little late.
EXPIRY_GRACE = timedelta(minutes=5)
# Reuse a pending charge only while the customer still has time to pay it.
REUSE_MARGIN = timedelta(minutes=2)
# Statuses that end a charge without money (a new one may be created for the order).
DEAD_STATUSES = {"rejected", "cancelled", "refunded", "charged_back", "expired"}
_KEY_NAMESPACE = uuid.UUID("7b0f0c52-4f43-4a38-9a1e-0c9d5b3a2e61")


# --- helpers ---------------------------------------------------------------------------------------


def current_tenant():
    from tenants.models import Tenant

    return Tenant.objects.filter(schema_name=db_connection.schema_name).first()


def customer_language(tenant=None) -> str:
    tenant = tenant or current_tenant()
    return getattr(tenant, "language", "") or settings.LANGUAGE_CODE


def local_time(moment, tenant=None) -> str:
    """``moment`` as the customer reads it: HH:MM in the tenant's time zone."""
    import zoneinfo

    tenant = tenant or current_tenant()
    try:
        zone = zoneinfo.ZoneInfo(getattr(tenant, "timezone", "") or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    return timezone.localtime(moment, zone).strftime("%H:%M")


def order_label(order) -> str:
    return f"#{order.number}" if order.number else f"{order.pk}"


def unavailable(message: str, reason: str) -> StoreError:
    return StoreError(message, "payment_unavailable", {"reason": reason})


def gateway() -> MercadoPagoClient:
    """The tenant's Mercado Pago account, or StoreError payment_unavailable when none is set up."""
    token = (StoreSettings.objects.filter(pk=1).values_list("mercadopago_access_token", flat=True).first() or "")
    if not token.strip():
        raise unavailable(_("Pix is unavailable: the store has not connected a Mercado Pago account "
                            "(access token) yet."), "not_configured")
    return MercadoPagoClient(token.strip())


def _gateway_error(exc: GatewayError) -> StoreError:
    """What staff (and the assistant) read when Mercado Pago fails; the token never appears."""
    if isinstance(exc, GatewayAuthError):
        return unavailable(_("Pix is unavailable: Mercado Pago refused the store's access token (%(reason)s). "
                             "Check it in the store settings.") % {"reason": exc}, "auth")
    if isinstance(exc, GatewayTemporaryError):
        return unavailable(_("Pix is unavailable right now: Mercado Pago did not answer (%(reason)s). "
                             "Try again in a moment.") % {"reason": exc}, "temporary")
    return unavailable(_("Mercado Pago refused the Pix charge: %(reason)s") % {"reason": exc}, "rejected")


def _idempotency_key(order, amount: Decimal, attempt: int) -> str:
    """Stable for (tenant, order, amount, attempt): repeating the call repeats the key, so Mercado Pago
    answers with the charge it already made instead of a second one."""
    return str(uuid.uuid5(_KEY_NAMESPACE, f"{db_connection.schema_name}:order:{order.pk}:{amount}:{attempt}"))


def _payer(order) -> dict:
    """Mercado Pago requires the payer's e-mail for Pix. A WhatsApp customer often has none: then an
    address of the store's own domain that identifies the customer stands in (never shown to them)."""
    contact = order.contact
    email = (getattr(contact, "email", "") or "").strip()
    if not email:
        email = f"cliente{contact.pk if contact else order.pk}@{settings.BASE_DOMAIN}"
        if "." not in email.rsplit("@", 1)[-1]:  # "localhost" in development: not an e-mail domain
            email += ".com.br"
    payer = {"email": email}
    if contact is not None:
        names = (contact.name or "").split()
        if names:
            payer["first_name"] = names[0][:60]
            if len(names) > 1:
                payer["last_name"] = " ".join(names[1:])[:60]
        profile = getattr(contact, "store_profile", None)  # None when the contact has no store profile
        digits = "".join(ch for ch in (getattr(profile, "document_number", "") or "") if ch.isdigit())
        if len(digits) in (11, 14):
            payer["identification"] = {"type": "CPF" if len(digits) == 11 else "CNPJ", "number": digits}
    return payer


def _notification_url(tenant) -> str:
    """Mercado Pago only calls public HTTPS addresses; in development (http) the webhook is configured
    by hand or not at all, so no URL is sent (Mercado Pago would refuse the charge)."""
    from apps.core.urls_util import tenant_absolute_url

    if tenant is None:
        return ""
    url = tenant_absolute_url(tenant, reverse("mercadopago:webhook"))
    return url if url.startswith("https://") else ""


def _staff_link(order) -> str:
    return f"{reverse('store:orders')}?order={order.pk}"


# --- creating the charge -------------------------------------------------------------------------


def _check_order(order) -> None:
    if order.status == OrderStatus.CART:
        raise StoreError(_("Place the order before charging it."), "invalid_transition")
    if order.status == OrderStatus.CANCELED:
        raise StoreError(_("This order was canceled: it cannot be charged."), "invalid_transition")
    if order.payment_status == PaymentStatus.PAID:
        raise StoreError(_("This order is already paid."), "invalid_transition")
    if order.payment_method != PaymentMethod.PIX:
        raise StoreError(_("The order's payment method is not Pix."), "payment_method_invalid")
    if order.total <= 0:
        raise StoreError(_("There is nothing to charge on this order."), "invalid_transition")


def _reusable(order, amount: Decimal) -> Payment | None:
    """A charge of this order for this amount that the customer can still pay."""
    soon = timezone.now() + REUSE_MARGIN
    for payment in Payment.objects.filter(order=order, provider=PROVIDER, amount=amount).order_by("-created_at"):
        if payment.status in DEAD_STATUSES:
            continue
        if payment.status == "approved" or payment.expires_at is None or payment.expires_at > soon:
            return payment
    return None


def pix_for_order(order, *, by_ai: bool | None = None, user=None) -> Payment:
    """Charge ``order`` by Pix at Mercado Pago and send the QR code and the copy-and-paste code in the
    order's conversation. Calling it again for the same order (and amount) returns the same Payment
    and sends nothing new while the customer can still pay it.

    Raises StoreError: ``payment_unavailable`` (no access token configured, token refused, Mercado
    Pago down or refusing the charge: params ``reason`` = not_configured / auth / temporary /
    rejected), ``invalid_transition`` (a cart, canceled or already paid), ``payment_method_invalid``
    (the order is not paid by Pix). On any of them nothing was stored or sent."""
    order = Order.objects.select_related("contact", "conversation").get(pk=order.pk)
    _check_order(order)
    amount = order.total
    existing = _reusable(order, amount)
    if existing is not None:
        return existing
    client = gateway()
    tenant = current_tenant()
    settings_row = StoreSettings.objects.filter(pk=1).first()
    minutes = settings_row.pix_expiration_minutes if settings_row else 30
    expires_at = timezone.now() + timedelta(minutes=minutes)
    attempt = Payment.objects.filter(order=order).count()
    key = _idempotency_key(order, amount, attempt)
    with translation.override(customer_language(tenant)):
        description = _("Order %(number)s at %(store)s") % {"number": order_label(order),
                                                             "store": getattr(tenant, "name", "")}
    try:
        charge = client.create_pix(amount=amount, description=description,
                                   external_reference=f"{db_connection.schema_name}:{order.pk}",
                                   idempotency_key=key, payer=_payer(order), expires_at=expires_at,
                                   notification_url=_notification_url(tenant))
    except GatewayError as exc:
        log.warning("Pix for order %s not created: %s", order.pk, exc)
        raise _gateway_error(exc) from None
    if not charge.qr_code or charge.amount != amount:
        log.error("Pix for order %s: unusable answer (payment %s, amount %s)", order.pk, charge.id, charge.amount)
        raise unavailable(_("Mercado Pago answered without a usable Pix code. Try again in a moment."), "rejected")
    return _store_charge(order, charge, key=key, expires_at=charge.expires_at or expires_at, tenant=tenant,
                         by_ai=order.created_by_ai if by_ai is None else by_ai, user=user)


def _store_charge(order, charge: PixCharge, *, key: str, expires_at, tenant, by_ai: bool, user) -> Payment:
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                order=order, provider=PROVIDER, external_id=charge.id, idempotency_key=key, status=charge.status or
                "pending", amount=charge.amount, qr_code=charge.qr_code, qr_code_base64=charge.qr_code_base64,
                ticket_url=charge.ticket_url[:500], expires_at=expires_at, raw=charge.raw)
            OrderEvent.objects.create(order=order, kind="payment", user=user, by_ai=by_ai,
                                      note=f"Pix {format_money(charge.amount, language='en')} "
                                           f"(Mercado Pago {charge.id})"[:300])
            if order.conversation_id:
                # unpaid when the code expires: the sweep cancels the order and returns its stock
                Order.objects.filter(pk=order.pk).update(cart_cancel_due_at=expires_at + EXPIRY_GRACE)
                _send_pix(order, payment, tenant=tenant, by_ai=by_ai)
    except IntegrityError:
        # a concurrent call with the same key stored it first (Mercado Pago gave both the same charge)
        return Payment.objects.get(idempotency_key=key)
    return payment


def _send_pix(order, payment: Payment, *, tenant, by_ai: bool) -> None:
    """The QR image with the instructions, then the code alone (easy to copy on a phone). A failed
    send (Cloud API window closed, number disabled) leaves the charge and a line in the chat."""
    from apps.inbox.models import SenderKind
    from apps.inbox.services.messages import message_log_event, message_send

    conversation = order.conversation
    sender = SenderKind.AI if by_ai else SenderKind.SYSTEM
    payload = {"order_id": order.pk, "payment_id": payment.pk, "pix": True}
    with translation.override(customer_language(tenant)):
        caption = _("Pix for order %(number)s: %(total)s.\nScan the QR code in your bank's app, or copy the code "
                    "in the next message (Pix copia e cola). Valid until %(time)s.") % {
            "number": order_label(order), "total": format_money(payment.amount),
            "time": local_time(payment.expires_at, tenant)}
        try:
            image = base64.b64decode(payment.qr_code_base64, validate=True) if payment.qr_code_base64 else b""
        except (binascii.Error, ValueError):
            image = b""
        try:
            with transaction.atomic():
                if image:
                    message_send(conversation, sender_kind=sender, text=caption,
                                 media=ContentFile(image, name=f"pix-{order_label(order).lstrip('#')}.png"),
                                 payload=payload)
                else:
                    message_send(conversation, sender_kind=sender, text=caption, payload=payload)
                message_send(conversation, sender_kind=sender, text=payment.qr_code, payload=payload)
        except ValidationError as exc:
            reason = "; ".join(exc.messages)
            log.info("Pix of order %s not sent to the chat: %s", order.pk, reason)
            message_log_event(conversation, text=_("The Pix code was created but not sent: %(reason)s") % {
                "reason": reason}, payload={"event": "pix_not_sent", "order_id": order.pk})


# --- webhook ---------------------------------------------------------------------------------------


class NotificationRejected(Exception):
    """The webhook cannot be accepted: ``status`` (400, 401, 503) and a short ``reason``. Nothing changed."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class NotificationResult:
    outcome: str  # "applied", "ignored"
    payment: Payment | None = None


def payment_notification(*, data_id: str, topic: str, signature: str, request_id: str) -> NotificationResult:
    """A Mercado Pago notification for this tenant: verify, then re-read the payment and apply it.

    ``data_id`` is the signed ``data.id`` (from the query string, as Mercado Pago signs it). Raises
    NotificationRejected(400) for a notification without the signature or the id, (401) when the
    signature does not match this tenant's secret (or none is set), (503) when Mercado Pago cannot be
    asked now (it delivers again later). A payment of another account or unknown to this store is
    acknowledged and ignored."""
    if not signature or not data_id:
        raise NotificationRejected(400, "x-signature and data.id are required")
    secret = (StoreSettings.objects.filter(pk=1).values_list("mercadopago_webhook_secret", flat=True).first() or "")
    if not secret.strip():
        raise NotificationRejected(401, "no webhook secret is configured for this store")
    if not verify_signature(secret=secret.strip(), signature=signature, request_id=request_id, data_id=data_id):
        raise NotificationRejected(401, "invalid signature")
    if topic and topic not in ("payment", "payments"):
        return NotificationResult("ignored")
    payment = Payment.objects.filter(provider=PROVIDER, external_id=str(data_id)).first()
    if payment is None:  # not a charge of ours (another integration of the same account)
        return NotificationResult("ignored")
    try:
        charge = gateway().get_payment(str(data_id))
    except StoreError:
        raise NotificationRejected(503, "Mercado Pago is not configured for this store") from None
    except GatewayNotFound:
        log.warning("Mercado Pago notification for payment %s it does not know", data_id)
        return NotificationResult("ignored", payment)
    except (GatewayAuthError, GatewayTemporaryError, GatewayRejected) as exc:
        log.warning("Mercado Pago payment %s not read back: %s", data_id, exc)
        raise NotificationRejected(503, "Mercado Pago could not be asked about the payment now") from None
    return NotificationResult("applied", payment_apply(payment, charge))


def payment_refresh(payment: Payment) -> Payment:
    """Ask Mercado Pago about ``payment`` now and apply the answer (a "check payment" button, or a
    sweep of pending charges). Raises StoreError payment_unavailable when it cannot be asked."""
    try:
        charge = gateway().get_payment(payment.external_id)
    except GatewayError as exc:
        raise _gateway_error(exc) from None
    return payment_apply(payment, charge)


def payment_apply(payment: Payment, charge: PixCharge) -> Payment:
    """Record what Mercado Pago says about ``payment``. The first time it is approved (for the full
    amount), the order is marked paid, its expiry cancellation is dropped, and the customer and the
    staff are told; later notifications of the same payment change nothing."""
    if str(charge.id) != str(payment.external_id):
        raise ValueError("the charge is not this payment")
    with transaction.atomic():
        locked = Payment.objects.select_for_update().select_related("order").get(pk=payment.pk)
        fields = []
        if charge.status and charge.status != locked.status:
            locked.status = charge.status
            fields.append("status")
        locked.raw = charge.raw
        fields.append("raw")
        newly_paid = charge.status == "approved" and locked.paid_at is None
        if newly_paid and charge.amount != locked.amount:
            log.error("Mercado Pago payment %s approved for %s, expected %s: not marking the order paid",
                      charge.id, charge.amount, locked.amount)
            OrderEvent.objects.create(order=locked.order, kind="payment",
                                      note=f"Pix {charge.id}: paid {charge.amount}, expected {locked.amount}"[:300])
            newly_paid = False
        if newly_paid:
            locked.paid_at = charge.approved_at or timezone.now()
            fields.append("paid_at")
        locked.save(update_fields=fields)
        if newly_paid:
            _order_paid(locked)
    payment.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return payment


def _order_paid(payment: Payment) -> None:
    """Inside the Payment's lock: mark the order paid (once) and tell the customer and the staff.
    A canceled order is marked paid too (the money did arrive) and a person decides between a
    refund and restoring the order."""
    from .orders import order_mark_paid

    order = Order.objects.select_for_update().get(pk=payment.order_id)
    tenant = current_tenant()
    Order.objects.filter(pk=order.pk).update(cart_cancel_due_at=None)
    canceled = order.status == OrderStatus.CANCELED
    if order.payment_status != PaymentStatus.PAID:
        try:
            with transaction.atomic():
                order_mark_paid(order, note=f"Pix (Mercado Pago {payment.external_id})")
        except ValidationError as exc:  # the money arrived anyway: record it and let a person sort it out
            log.error("order %s: Pix %s approved but not marked paid: %s", order.pk, payment.external_id, exc)
            OrderEvent.objects.create(order=order, kind="payment",
                                      note=f"Pix {payment.external_id} paid; order not marked paid: "
                                           f"{'; '.join(exc.messages)}"[:300])
    order = Order.objects.select_related("contact", "conversation").get(pk=order.pk)
    _tell_customer(order, payment, tenant, canceled=canceled)
    _tell_staff(order, payment, tenant, canceled=canceled)


def _tell_customer(order, payment: Payment, tenant, *, canceled: bool = False) -> None:
    from apps.inbox.models import SenderKind
    from apps.inbox.services.messages import message_log_event, message_send

    if not order.conversation_id:
        return
    with translation.override(customer_language(tenant)):
        values = {"total": format_money(payment.amount), "number": order_label(order)}
        if canceled:
            text = _("We received your Pix of %(total)s for order %(number)s, but that order had been canceled. "
                     "Someone from our team will contact you shortly.") % values
        else:
            text = _("Payment received! Your Pix of %(total)s for order %(number)s is confirmed. Thank you!") % values
        try:
            with transaction.atomic():
                message_send(order.conversation, sender_kind=SenderKind.SYSTEM, text=text,
                             payload={"order_id": order.pk, "payment_id": payment.pk, "event": "pix_paid"})
        except ValidationError as exc:
            reason = "; ".join(exc.messages)
            message_log_event(order.conversation, text=_("Pix payment received; the confirmation was not sent: "
                                                         "%(reason)s") % {"reason": reason},
                              payload={"event": "pix_paid_not_sent", "order_id": order.pk})


def staff_for(order) -> list:
    """Who hears about the order's payment: the conversation's assignee when it has one, else
    everyone who sells (``store.sell``, Admins included)."""
    from apps.accounts.models import User
    from apps.accounts.roles import CAPABILITIES, Role

    conversation = order.conversation if order.conversation_id else None
    if conversation is not None and conversation.assignee_id:
        assignee = User.objects.filter(pk=conversation.assignee_id, is_active=True).first()
        if assignee is not None:
            return [assignee]
    roles = {Role.ADMIN, *CAPABILITIES.get("store.sell", set())}
    return list(User.objects.filter(is_active=True, role__in=roles).order_by("pk"))


def _tell_staff(order, payment: Payment, tenant, *, canceled: bool = False) -> None:
    from apps.notifications.services import notification_send

    recipients = staff_for(order)
    if not recipients:
        return
    customer = order.contact.display_name if order.contact_id else ""
    with translation.override(customer_language(tenant)):
        values = {"number": order_label(order), "total": format_money(payment.amount), "customer": customer}
        if canceled:
            title = _("Pix paid for canceled order %(number)s") % values
            body = _("%(customer)s paid %(total)s by Pix after the order was canceled: refund it or restore the "
                     "order.") % values
        else:
            title = _("Order %(number)s paid by Pix") % values
            body = _("%(customer)s paid %(total)s.") % values
    notification_send(recipients=recipients, kind="store.payment", title=title, body=body, link=_staff_link(order))
