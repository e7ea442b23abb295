"""Every write to orders (contract; implemented by the store-core owner). All raise
apps.store.errors.StoreError (a ValidationError with a code) on a refusal, changing nothing."""
from __future__ import annotations

from decimal import Decimal


def cart_for(*, contact, conversation=None, channel: str = "whatsapp", create: bool = True):
    """The contact's open cart in this conversation (or a new one)."""
    raise NotImplementedError


def cart_add_item(order, *, product, quantity: Decimal, user=None):
    """Add (or increase) a line; checks active product, 0 < quantity <= max per item, stock available."""
    raise NotImplementedError


def cart_update_item(order, *, item, quantity: Decimal, user=None):
    raise NotImplementedError


def cart_remove_item(order, *, item, user=None) -> None:
    raise NotImplementedError


def order_set_delivery(order, *, neighbourhood: str, address: str = "", fulfillment: str = "delivery"):
    """Delivery to a known zone (fee from it) or pickup; unknown neighbourhood -> unknown_zone."""
    raise NotImplementedError


def order_set_payment_method(order, *, method: str):
    raise NotImplementedError


def order_place(order, *, user=None, by_ai: bool = False, allow_unknown_zone: bool = False):
    """Cart -> placed: re-checks everything, reserves stock (all lines or none), numbers the order."""
    raise NotImplementedError


def order_create(*, contact, channel: str, items: list[tuple], payment_method: str = "", paid: bool = False,
                 discount: Decimal = Decimal("0"), notes: str = "", fulfillment: str = "pickup",
                 neighbourhood: str = "", address: str = "", user=None, placed_at=None, status: str = "placed"):
    """A whole order in one step (counter sale, phone order): ``items`` = [(product, quantity), ...]."""
    raise NotImplementedError


def order_advance(order, *, to_status: str | None = None, user=None, by_ai: bool = False):
    """Next status (or ``to_status`` when it is a valid move); each change timestamped in OrderEvent."""
    raise NotImplementedError


def order_cancel(order, *, reason: str, user=None, by_ai: bool = False):
    """Cancel (placed..out_for_delivery, or a cart); reserved stock is returned."""
    raise NotImplementedError


def order_mark_paid(order, *, user=None, note: str = ""):
    raise NotImplementedError


def order_rate(order, *, rating: int, comment: str = ""):
    raise NotImplementedError
