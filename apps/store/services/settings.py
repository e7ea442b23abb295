"""The store's settings row (pk=1 in each tenant schema). Read it with
``apps.store.selectors.store_settings()``."""
from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.store.models import StoreSettings

from .stock import to_decimal

_MINUTES = ("cart_reminder_minutes", "cart_cancel_minutes", "rating_delay_minutes", "ordering_reset_minutes",
            "pix_expiration_minutes")
_SECRETS = ("mercadopago_access_token", "mercadopago_webhook_secret")
_FIELDS = {"allow_negative_stock", "max_quantity_per_item", *_MINUTES, *_SECRETS}


def store_settings_update(*, user=None, **fields) -> StoreSettings:
    """Change the given settings (others untouched). A secret passed as ``None`` is left as it is;
    ``""`` clears it. The abandoned-cart cancellation must come after the reminder."""
    unknown = set(fields) - _FIELDS
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    errors: dict[str, list[str]] = {}
    cleaned: dict = {}
    if "allow_negative_stock" in fields:
        cleaned["allow_negative_stock"] = bool(fields["allow_negative_stock"])
    if "max_quantity_per_item" in fields:
        limit = to_decimal(fields["max_quantity_per_item"])
        if limit is None or limit <= 0 or limit != limit.quantize(Decimal("0.001")) or limit >= Decimal("100000"):
            errors["max_quantity_per_item"] = [_("Enter a quantity greater than zero.")]
        else:
            cleaned["max_quantity_per_item"] = limit.quantize(Decimal("0.001"))
    for name in _MINUTES:
        if name in fields:
            value = fields[name]
            try:
                minutes = -1 if isinstance(value, bool) else int(str(value).strip())
            except ValueError:
                minutes = -1
            if not 1 <= minutes <= 60 * 24 * 30:
                errors[name] = [_("Enter a whole number of minutes (at least 1).")]
            else:
                cleaned[name] = minutes
    for name in _SECRETS:
        if name in fields and fields[name] is not None:
            cleaned[name] = str(fields[name]).strip()
    with transaction.atomic():
        row, _created = StoreSettings.objects.select_for_update().get_or_create(pk=1)
        reminder = cleaned.get("cart_reminder_minutes", row.cart_reminder_minutes)
        cancel = cleaned.get("cart_cancel_minutes", row.cart_cancel_minutes)
        if not errors and cancel <= reminder:
            errors["cart_cancel_minutes"] = [_("Cancel the cart after the reminder (more minutes).")]
        if errors:
            raise ValidationError(errors)
        for key, value in cleaned.items():
            setattr(row, key, value)
        row.updated_at = timezone.now()
        row.save()
    return row
