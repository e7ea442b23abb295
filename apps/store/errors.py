"""The store's refusals: a ValidationError with a machine-readable ``code`` (for the assistant's
tools and the API) and a translated message (for people)."""
from __future__ import annotations

from django.core.exceptions import ValidationError


class StoreError(ValidationError):
    """Codes: product_not_found, product_inactive, quantity_invalid, quantity_over_limit, out_of_stock,
    empty_cart, unknown_zone, below_minimum, payment_method_invalid, invalid_transition,
    not_a_cart, payment_unavailable, discount_invalid, channel_invalid, fulfillment_invalid, rating_invalid."""

    def __init__(self, message, code: str, params: dict | None = None):
        super().__init__(message, code=code, params=params)
