"""``{{ value|money }}``: an amount in BRL formatted for the active language (R$ 1.234,56 in pt-BR)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency
from django import template
from django.utils import translation

register = template.Library()

LOCALES = {"pt-br": "pt_BR", "pt": "pt_BR", "en": "en_US", "es": "es_ES"}
DEFAULT_LOCALE = "pt_BR"


def babel_locale(language: str | None = None) -> str:
    language = (language or translation.get_language() or "").lower()
    return LOCALES.get(language) or LOCALES.get(language.split("-")[0], DEFAULT_LOCALE)


def format_money(value, currency: str = "BRL", language: str | None = None) -> str:
    """Format ``value`` as money in the active (or given) language; '' for a non-number."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ""
    return format_currency(amount, currency, locale=babel_locale(language))


@register.filter(name="money")
def money(value, currency: str = "BRL") -> str:
    return format_money(value, currency or "BRL")
