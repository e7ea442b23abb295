"""The store's background jobs: each is a due time stored on the order plus this sweep (beat runs
task "store.sweep" per tenant every minute).

- ``cart_reminder_due_at``: an abandoned WhatsApp cart gets one reminder in its conversation.
- ``cart_cancel_due_at``: an abandoned cart is canceled; so is a WhatsApp order whose Pix expired
  unpaid (``services/payments.py`` sets it), which returns the stock the order reserved. Before
  canceling for an unpaid Pix the payment is read back from Mercado Pago, in case its notification
  was lost.
- ``rating_due_at``: some minutes after delivery the customer is asked for a 1-5 rating; their reply
  is taken by ``rating_capture`` (called from the conversation's turn, before the assistant).
- ``ordering_reset_due_at``: the assistant's ordering state of an idle conversation is forgotten.

Who sets the due times: the order services (``services/orders.py``) set the cart ones on every cart
change and clear them when the cart is placed or canceled, and set the rating one on delivery; the
assistant's tools push the ordering reset; payments set the Pix expiry.

Each due row is handled in its own transaction: it is locked with ``FOR UPDATE SKIP LOCKED`` (a row
another sweep holds is simply skipped), its due time is cleared, and the action runs in a savepoint
of that same transaction. So two sweeps at once, or one run twice, act once: the second either
skips the locked row or no longer finds it due. A failing action is logged and not retried (the
due time is gone with it); a stale due time (the order moved on) is just cleared.
"""
from __future__ import annotations

import logging
import re
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.core.templatetags.money import format_money

from ..models import Order, OrderStatus, Payment, PaymentMethod, PaymentStatus
from .payments import (DEAD_STATUSES, EXPIRY_GRACE, PROVIDER, current_tenant, customer_language, order_label,
                       payment_refresh)

log = logging.getLogger(__name__)

MAX_PER_RUN = 500  # per job and sweep; the rest waits for the next minute
RATING_REPLY_WINDOW = timedelta(days=1)  # a "4" long after the question is not a rating
PIX_RECHECK_AFTER = timedelta(minutes=5)  # Mercado Pago unreachable at expiry: ask again later
CANCELABLE_UNPAID = (OrderStatus.PLACED, OrderStatus.CONFIRMED)


# --- the sweep -------------------------------------------------------------------------------------


def store_sweep(*, now=None) -> dict:
    """Run every due job of the current tenant; returns how many orders each one acted on."""
    now = now or timezone.now()
    with translation.override(customer_language(current_tenant())):  # the texts go to customers
        return {
            "reminded": _sweep("cart_reminder_due_at", now, lambda o: _remind_cart(o, now)),
            "canceled": _sweep("cart_cancel_due_at", now, lambda o: _cancel_abandoned(o, now)),
            "rating_asked": _sweep("rating_due_at", now, lambda o: _ask_rating(o, now)),
            "ordering_reset": _sweep("ordering_reset_due_at", now, _reset_ordering),
        }


def _sweep(field: str, now, action) -> int:
    """Lock one due order at a time (skipping rows others hold), clear ``field``, run ``action`` in a
    savepoint, commit. ``action`` returns True when it did something."""
    acted = 0
    seen: set[int] = set()
    for _i in range(MAX_PER_RUN):
        with transaction.atomic():
            order = (Order.objects.select_for_update(skip_locked=True)
                     .filter(**{f"{field}__lte": now}).exclude(pk__in=seen).order_by(field, "pk").first())
            if order is None:
                break
            seen.add(order.pk)
            Order.objects.filter(pk=order.pk).update(**{field: None})
            setattr(order, field, None)
            try:
                with transaction.atomic():
                    if action(order):
                        acted += 1
            except Exception:  # noqa: BLE001 - one broken order must not stop the others; not retried
                log.exception("store sweep: %s of order %s failed", field, order.pk)
    return acted


def _send(order, text: str, payload: dict) -> bool:
    """A message from the store in the order's conversation; a refused send is a line in the chat."""
    from apps.inbox.models import SenderKind
    from apps.inbox.services.messages import message_log_event, message_send

    conversation = order.conversation
    try:
        with transaction.atomic():
            message_send(conversation, sender_kind=SenderKind.SYSTEM, text=text, payload=payload)
        return True
    except ValidationError as exc:  # Cloud API window closed, number disabled
        reason = "; ".join(exc.messages)
        log.info("store job message for order %s not sent: %s", order.pk, reason)
        message_log_event(conversation, text=_("Store message not sent: %(reason)s") % {"reason": reason},
                          payload={"event": "store_job_not_sent", "order_id": order.pk, "job": payload.get("event")})
        return False


# --- abandoned carts -------------------------------------------------------------------------------


def _remind_cart(order, now) -> bool:
    if order.status != OrderStatus.CART or not order.conversation_id or order.cart_reminded_at is not None:
        return False
    items = list(order.items.all())
    if not items:
        return False
    Order.objects.filter(pk=order.pk).update(cart_reminded_at=now)
    text = ngettext("Hi! Your order is still open: %(count)s item, %(subtotal)s so far. Shall we finish it? Just "
                    "reply here to continue.",
                    "Hi! Your order is still open: %(count)s items, %(subtotal)s so far. Shall we finish it? Just "
                    "reply here to continue.", len(items)) % {"count": len(items),
                                                              "subtotal": format_money(order.subtotal)}
    _send(order, text, {"event": "cart_reminder", "order_id": order.pk})
    return True


def _cancel_abandoned(order, now) -> bool:
    from .orders import order_cancel

    if order.status == OrderStatus.CART:
        had_items = order.items.exists()
        order_cancel(order, reason=_("Abandoned cart"))
        if had_items and order.conversation_id:
            _send(order, _("Your cart was closed after some time without news. Whenever you want, just send a "
                           "message to start a new order."), {"event": "cart_canceled", "order_id": order.pk})
        return True
    if (order.status in CANCELABLE_UNPAID and order.payment_method == PaymentMethod.PIX
            and order.payment_status == PaymentStatus.PENDING):
        return _cancel_unpaid_pix(order, now, order_cancel)
    return False  # the order moved on (paid, delivered, canceled): nothing to do


def _cancel_unpaid_pix(order, now, order_cancel) -> bool:
    payments = list(Payment.objects.filter(order=order, provider=PROVIDER).order_by("-created_at"))
    if not payments:
        return False  # no Pix was ever created: staff take the payment another way
    live = [p for p in payments if p.status not in DEAD_STATUSES]
    payable = [p for p in live if p.expires_at is None or p.expires_at + EXPIRY_GRACE > now]
    if payable:  # a newer charge can still be paid: wait for it to expire
        ends = [p.expires_at for p in payable if p.expires_at is not None]
        if len(ends) == len(payable):
            Order.objects.filter(pk=order.pk).update(cart_cancel_due_at=max(ends) + EXPIRY_GRACE)
        return False
    for payment in live:  # the notification may have been lost: ask Mercado Pago before canceling
        try:
            payment_refresh(payment)
        except ValidationError as exc:
            log.warning("order %s: Pix %s not checked before canceling (%s); trying again later", order.pk,
                        payment.external_id, "; ".join(exc.messages))
            Order.objects.filter(pk=order.pk).update(cart_cancel_due_at=now + PIX_RECHECK_AFTER)
            return False
    order.refresh_from_db()
    if order.payment_status == PaymentStatus.PAID or order.status not in CANCELABLE_UNPAID:
        return False
    order_cancel(order, reason=_("Pix not paid in time"))
    if order.conversation_id:
        _send(order, _("The Pix for order %(number)s expired without payment, so the order was canceled. If you still "
                       "want it, just send a message and we will place it again.") % {"number": order_label(order)},
              {"event": "pix_expired", "order_id": order.pk})
    return True


# --- rating ----------------------------------------------------------------------------------------


def _ask_rating(order, now) -> bool:
    if (order.status != OrderStatus.DELIVERED or not order.conversation_id or order.rating is not None
            or order.rating_asked_at is not None):
        return False
    Order.objects.filter(pk=order.pk).update(rating_asked_at=now)
    text = _("How was your order %(number)s? Reply with a number from 1 (bad) to 5 (excellent).") % {
        "number": order_label(order)}
    _send(order, text, {"event": "rating_request", "order_id": order.pk})
    return True


_RATING = re.compile(r"^\s*(?:nota\s*:?\s*)?([1-5])(?:\s*/\s*5)?(?![\d.,]*\d)\s*[.,!:;\-–—]*\s*(.*)$",
                     re.IGNORECASE | re.DOTALL)


def parse_rating(text: str) -> tuple[int, str] | None:
    """(rating, comment) from a reply like "5", "4 - muito bom", "nota 3", "5/5" or "⭐⭐⭐⭐"; None
    when it does not start with a rating ("10", "4.5", "ok"). Words after the number are the comment,
    so "2 pizzas" reads as a 2: ``rating_capture`` only listens while the store's rating question is
    the last thing the customer was asked."""
    text = (text or "").strip()
    stars = text.replace("\ufe0f", "")
    if stars and set(stars) == {"⭐"} and len(stars) <= 5:
        return len(stars), ""
    match = _RATING.match(text)
    if match is None:
        return None
    return int(match.group(1)), match.group(2).strip()[:300]


def rating_capture(conversation, text: str) -> bool:
    """Take a customer's reply as the rating of the order we asked about, if it is one.

    For the conversation's turn to call before the assistant answers (lead: the inbox / agents turn).
    True when the text was a rating and was stored (and thanked): the turn is done. False otherwise:
    not a rating, no question pending (asked within a day), or the question is no longer the last
    thing we said to this customer (the chat moved on, so "2" may be a quantity)."""
    from apps.inbox.models import Direction, Message, MessageType, SenderKind

    parsed = parse_rating(text)
    if parsed is None or conversation is None:
        return False
    rating, comment = parsed
    # across the customer's conversations: the one we asked in may have been resolved since, and the
    # reply then opens a new one
    last_ours = (Message.objects.filter(conversation__contact_id=conversation.contact_id, direction=Direction.OUT)
                 .exclude(type=MessageType.EVENT).order_by("-created_at", "-id").first())
    payload = (last_ours.payload or {}) if last_ours is not None else {}
    if payload.get("event") != "rating_request" or not payload.get("order_id"):
        return False
    from .orders import order_rate

    with transaction.atomic():
        order = (Order.objects.select_for_update()
                 .filter(pk=payload["order_id"], contact_id=conversation.contact_id, rating__isnull=True,
                         rating_asked_at__gte=timezone.now() - RATING_REPLY_WINDOW).first())
        if order is None:
            return False
        try:
            with transaction.atomic():
                order_rate(order, rating=rating, comment=comment)
        except ValidationError:
            return False
        with translation.override(customer_language()):
            text = _("Thank you for your rating!") if rating >= 4 else _(
                "Thank you for telling us. We will use it to do better next time.")
            from apps.inbox.services.messages import message_send

            try:
                with transaction.atomic():
                    message_send(conversation, sender_kind=SenderKind.SYSTEM, text=text,
                                 payload={"event": "rating_thanks", "order_id": order.pk})
            except ValidationError:
                pass  # the rating is stored; a thank-you that cannot be sent is no loss
    return True


class RatingTurnHandler:
    """A turn handler (``apps.inbox.turns.register_turn_handler(RatingTurnHandler(), first=True)``):
    owns the turn when the customer's messages are the answer to the rating question."""

    name = "store.rating"

    def handle(self, turn) -> bool:
        from apps.inbox.models import Message

        ids = list((turn.detail or {}).get("message_ids") or [])
        messages = Message.objects.filter(pk__in=ids) if ids else turn.messages.all()
        text = " ".join((m.text or "").strip() for m in messages.order_by("created_at", "id")).strip()
        return rating_capture(turn.conversation, text) if text else False


# --- idle ordering state ---------------------------------------------------------------------------


def _reset_ordering(order) -> bool:
    if not order.ordering_state:
        return False
    Order.objects.filter(pk=order.pk).update(ordering_state={}, updated_at=timezone.now())
    return True
