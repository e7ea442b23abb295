"""Delivery zones: writers and the neighbourhood lookup the orders use.

Neighbourhoods are matched ignoring case, accents and repeated spaces ("jardim  américa" finds
"Jardim America"): customers type them on a phone. Zones are few per store, so the match runs in
Python over the active zones rather than needing the ``unaccent`` extension in every schema."""
from __future__ import annotations

import unicodedata
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from apps.store.models import DeliveryZone

from .stock import to_decimal

MONEY = Decimal("0.01")


def normalize_place(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.casefold().replace("-", " ").split())


def zone_find(neighbourhood: str, *, city: str = "") -> DeliveryZone | None:
    """The active zone of ``neighbourhood`` (and ``city`` when given and zones carry one), or None."""
    wanted = normalize_place(neighbourhood)
    if not wanted:
        return None
    wanted_city = normalize_place(city)
    matches = [zone for zone in DeliveryZone.objects.filter(is_active=True).order_by("id")
               if normalize_place(zone.neighbourhood) == wanted]
    if wanted_city:
        exact = [zone for zone in matches if normalize_place(zone.city) == wanted_city]
        matches = exact or [zone for zone in matches if not zone.city]
    return matches[0] if matches else None


_FIELDS = {"neighbourhood", "city", "fee", "min_order", "estimated_minutes", "is_active"}


def _clean(values: dict, *, instance: DeliveryZone | None = None) -> dict:
    errors: dict[str, list[str]] = {}
    unknown = set(values) - _FIELDS
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    cleaned = dict(values)
    if "neighbourhood" in values or instance is None:
        name = " ".join((values.get("neighbourhood") or "").split())[:100]
        if not name:
            errors["neighbourhood"] = [_("Enter the neighbourhood.")]
        cleaned["neighbourhood"] = name
    if "city" in values:
        cleaned["city"] = " ".join((values.get("city") or "").split())[:100]
    for field in ("fee", "min_order"):
        if field in values:
            amount = to_decimal(values[field])
            if amount is None or amount < 0:
                errors[field] = [_("Enter an amount of zero or more.")]
            elif amount != amount.quantize(MONEY) or amount >= Decimal("1000000"):
                errors[field] = [_("Enter a valid amount in R$ (at most 2 decimal places).")]
            else:
                cleaned[field] = amount.quantize(MONEY)
    if "estimated_minutes" in values:
        minutes = values["estimated_minutes"]
        try:
            minutes = -1 if isinstance(minutes, bool) else int(str(minutes).strip())
        except ValueError:
            minutes = -1
        if not 0 <= minutes <= 32767:
            errors["estimated_minutes"] = [_("Enter the minutes as a whole number.")]
        else:
            cleaned["estimated_minutes"] = minutes
    if not errors and "neighbourhood" in cleaned:
        city = cleaned.get("city", instance.city if instance else "")
        wanted, wanted_city = normalize_place(cleaned["neighbourhood"]), normalize_place(city)
        clash = [zone for zone in DeliveryZone.objects.exclude(pk=instance.pk if instance else None)
                 if normalize_place(zone.neighbourhood) == wanted and normalize_place(zone.city) == wanted_city]
        if clash:
            errors["neighbourhood"] = [_("There is already a delivery zone for this neighbourhood.")]
    if errors:
        raise ValidationError(errors)
    return cleaned


def zone_create(*, neighbourhood: str, city: str = "", fee=Decimal("0"), min_order=Decimal("0"),
                estimated_minutes: int = 45, is_active: bool = True) -> DeliveryZone:
    values = _clean({"neighbourhood": neighbourhood, "city": city, "fee": fee, "min_order": min_order,
                     "estimated_minutes": estimated_minutes, "is_active": bool(is_active)})
    try:
        with transaction.atomic():
            return DeliveryZone.objects.create(**values)
    except IntegrityError:  # a concurrent twin slipped past the check
        raise ValidationError({"neighbourhood": [_("There is already a delivery zone for this neighbourhood.")]})


def zone_update(zone: DeliveryZone, **fields) -> DeliveryZone:
    values = _clean(fields, instance=zone)
    for key, value in values.items():
        setattr(zone, key, value)
    try:
        with transaction.atomic():
            zone.save(update_fields=list(values) or None)
    except IntegrityError:
        raise ValidationError({"neighbourhood": [_("There is already a delivery zone for this neighbourhood.")]})
    return zone


def zone_deactivate(zone: DeliveryZone) -> DeliveryZone:
    """Zones are deactivated, not deleted: past orders keep pointing at theirs."""
    zone.is_active = False
    zone.save(update_fields=["is_active"])
    return zone
