"""What the page shows, built from ``selectors.overview()``: labels in the active language,
formatted values, change badges, and the charts' data (embedded with json_script)."""
from __future__ import annotations

from decimal import Decimal

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from apps.core.templatetags.money import format_money
from apps.store.models import Channel, PaymentMethod


HEAT_ALPHA = {0: 0, 1: 28, 2: 52, 3: 76, 4: 100}  # % of the brand colour per level


def weekdays() -> list[tuple[int, str]]:
    """ISO weekday -> short label, in the active language."""
    return [(1, pgettext("weekday", "Mon")), (2, pgettext("weekday", "Tue")), (3, pgettext("weekday", "Wed")),
            (4, pgettext("weekday", "Thu")), (5, pgettext("weekday", "Fri")), (6, pgettext("weekday", "Sat")),
            (7, pgettext("weekday", "Sun"))]


def _number(value, decimals: int = 0) -> str:
    return formats.number_format(value, decimals, use_l10n=True, force_grouping=True)


def _percent(value) -> str:
    return "—" if value is None else f"{_number(value, 1)}%"


def _change(metric: dict) -> dict:
    """The up/down badge: relative change in %, or points for percentages."""
    if metric.get("change_pp") is not None:
        value = metric["change_pp"]
        text = _("%(sign)s%(value)s p.p.") % {"sign": "+" if value > 0 else "", "value": _number(value, 1)}
    elif metric.get("change_pct") is not None:
        value = metric["change_pct"]
        text = f"{'+' if value > 0 else ''}{_number(value, 1)}%"
    else:
        return {"text": "—", "direction": "none", "title": _("No data in the previous period to compare with.")}
    direction = "up" if value > 0 else "down" if value < 0 else "flat"
    return {"text": text, "direction": direction, "title": _("Change against the previous period")}


def _card(key: str, label: str, metric: dict, fmt, hint: str = "") -> dict:
    return {
        "key": key, "label": label, "value": fmt(metric["value"]), "previous": fmt(metric["previous"]),
        "change": _change(metric), "hint": hint,
    }


def _money(value) -> str:
    return "—" if value is None else format_money(value)


def _count(value) -> str:
    return "—" if value is None else _number(value)


def channel_label(value: str) -> str:
    return str(dict(Channel.choices).get(value, value or _("Not informed")))


def payment_label(value: str) -> str:
    return str(dict(PaymentMethod.choices).get(value, "")) or _("Not informed")


def bucket_label(day, granularity: str) -> str:
    if granularity == "month":
        return formats.date_format(day, "YEAR_MONTH_FORMAT")
    if granularity == "week":
        return _("Week of %(day)s") % {"day": formats.date_format(day, "SHORT_DATE_FORMAT")}
    return formats.date_format(day, "SHORT_DATE_FORMAT")


def _float(value: Decimal | int) -> float:
    return float(value)  # chart drawing only; the numbers shown in text stay Decimal


def page(data: dict) -> dict:
    kpis = data["kpis"]
    cards_to_date = [
        _card("revenue_today", _("Revenue today"), data["revenue_cards"]["today"], _money,
              _("vs. yesterday at this time")),
        _card("revenue_week", _("Revenue this week"), data["revenue_cards"]["week"], _money,
              _("vs. last week until now")),
        _card("revenue_month", _("Revenue this month"), data["revenue_cards"]["month"], _money,
              _("vs. last month until the same day")),
    ]
    recurring = kpis["recurring_share"]
    cards = [
        _card("revenue", _("Revenue"), kpis["revenue"], _money),
        _card("orders", _("Orders"), kpis["orders"], _count),
        _card("avg_ticket", _("Average ticket"), kpis["avg_ticket"], _money),
        _card("gross_margin", _("Gross margin"), kpis["gross_margin"], _percent,
              _("%(amount)s after product costs") % {"amount": _money(kpis["gross_margin_amount"]["value"])}),
        _card("recurring_share", _("Recurring customers"), recurring, _percent,
              _("%(recurring)s of %(buyers)s customers bought 2+ times") % {
                  "recurring": _number(recurring["recurring"]), "buyers": _number(recurring["buyers"])}),
        _card("new_customers", _("New customers"), kpis["new_customers"], _count),
    ]
    granularity = data["granularity"]
    charts = {
        "series": {
            "labels": [bucket_label(row["bucket"], granularity) for row in data["series"]],
            "revenue": [_float(row["revenue"]) for row in data["series"]],
            "orders": [row["orders"] for row in data["series"]],
            "revenueLabel": _("Revenue"), "ordersLabel": _("Orders"),
        },
        "channels": {
            "labels": [channel_label(row["channel"]) for row in data["channels"]],
            "orders": [row["orders"] for row in data["channels"]],
            "ordersLabel": _("Orders"),
        },
        "payments": {
            "labels": [payment_label(row["method"]) for row in data["payments"]],
            "orders": [row["orders"] for row in data["payments"]],
            "ordersLabel": _("Orders"),
        },
        "categories": {
            "labels": [row["name"] or _("Uncategorized") for row in data["categories"]],
            "revenue": [_float(row["revenue"]) for row in data["categories"]],
            "revenueLabel": _("Revenue"),
        },
        "currency": "BRL",
    }
    heat = data["heatmap"]
    peak = heat["max"] or 1
    heatmap = []
    for dow, label in weekdays():
        cells = []
        for hour in range(24):
            orders = heat["cells"].get((dow, hour), 0)
            level = 0 if not orders else 1 + min(3, int(4 * orders / peak - 1e-9))  # quartiles of the peak
            cells.append({"hour": hour, "orders": orders, "level": level, "alpha": HEAT_ALPHA[level]})
        heatmap.append({"label": label, "cells": cells})
    conversations = data["conversations"]
    return {
        "cards_to_date": cards_to_date,
        "cards": cards,
        "charts": charts,
        "channels": [{"label": channel_label(r["channel"]), "orders": _count(r["orders"]),
                      "revenue": _money(r["revenue"])} for r in data["channels"]],
        "payments": [{"label": payment_label(r["method"]), "orders": _count(r["orders"]),
                      "revenue": _money(r["revenue"])} for r in data["payments"]],
        "categories": [{"label": r["name"] or _("Uncategorized"), "revenue": _money(r["revenue"])}
                       for r in data["categories"]],
        "heatmap": heatmap,
        "hours": list(range(24)),
        "top_revenue": [_product(p) for p in data["top_products_revenue"]],
        "top_quantity": [_product(p) for p in data["top_products_quantity"]],
        "conversations": {
            "open": _count(conversations["open"]),
            "waiting_human": _count(conversations["waiting_human"]),
            "resolved": _count(conversations["resolved"]),
            "resolved_by_ai": _count(conversations["resolved_by_ai"]),
            "ai_share": _card("ai_share", _("Resolved by the AI"), conversations["ai_share"], _percent),
        },
        "period_label": period_label(data["period"]),
    }


def _product(p: dict) -> dict:
    decimals = 0 if p["unit"] == "unit" else 3
    quantity = p["quantity"] if decimals else p["quantity"].to_integral_value()
    return {"product_id": p["product_id"], "name": p["name"],
            "quantity": f"{_number(quantity, decimals)} {p['unit'] if p['unit'] != 'unit' else _('un.')}",
            "revenue": _money(p["revenue"]), "margin": _money(p["margin"])}


def period_label(period) -> str:
    first = formats.date_format(period.first_day, "SHORT_DATE_FORMAT")
    last = formats.date_format(period.last_day, "SHORT_DATE_FORMAT")
    previous_first = formats.date_format(period.previous.start.astimezone(period.tz).date(), "SHORT_DATE_FORMAT")
    if first == last:
        text = first
    else:
        text = _("%(first)s to %(last)s") % {"first": first, "last": last}
    return _("%(period)s, compared with the period starting %(previous)s") % {
        "period": text, "previous": previous_first}
