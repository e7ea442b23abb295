"""The dashboard's periods, in the tenant's time zone.

A period is a half-open span [start, end) of aware datetimes starting at a local midnight. A period
that reaches the present ends *now* ("to date"), and its comparison is the previous equal period
ending at the same moment, so the morning of today is compared with yesterday's morning, not with
the whole of yesterday:

    today       [today 00:00, now)             vs [yesterday 00:00, now - 1 day)
    7d / 30d    the last 7 / 30 days incl. today, vs the 7 / 30 days before, to the same time
    month       [1st 00:00, now)               vs the previous month from its 1st to the same day and
                                                  time (clamped: 31 March compares with 28/29 February)
    last_month  the whole previous month       vs the whole month before it
    custom      [first 00:00, last+1 00:00)    vs the same number of days just before
                (capped at now when it reaches the present)

Shifts are wall-clock shifts (local date and time), so a period and its comparison cover the same
hours of the day even across a daylight-saving change.
"""
from __future__ import annotations

import calendar
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext_lazy as _

PERIODS = [
    ("today", _("Today")),
    ("7d", _("Last 7 days")),
    ("30d", _("Last 30 days")),
    ("month", _("This month")),
    ("last_month", _("Last month")),
    ("custom", _("Custom range")),
]
DEFAULT_PERIOD = "30d"
GRANULARITIES = [("day", _("Day")), ("week", _("Week")), ("month", _("Month"))]
MAX_CUSTOM_DAYS = 732  # two years and a leap day


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def tenant_zone() -> zoneinfo.ZoneInfo:
    """The current schema's tenant time zone (membership check first: ZoneInfo() opens files)."""
    tenant = getattr(connection, "tenant", None)
    name = getattr(tenant, "timezone", None)
    if name is None:
        from tenants.models import Tenant

        name = (Tenant.objects.filter(schema_name=connection.schema_name)
                .values_list("timezone", flat=True).first())
    if name not in _zone_names():
        name = settings.TIME_ZONE
    return zoneinfo.ZoneInfo(name)


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime

    def __post_init__(self):
        if self.end < self.start:
            object.__setattr__(self, "end", self.start)


@dataclass(frozen=True)
class Period:
    key: str
    current: Span
    previous: Span
    first_day: date  # local, inclusive (what the user picked)
    last_day: date  # local, inclusive
    tz: zoneinfo.ZoneInfo

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def default_granularity(self) -> str:
        if self.days <= 62:
            return "day"
        if self.days <= 190:
            return "week"
        return "month"


def _local(day: date, tz, at: time = time.min) -> datetime:
    return datetime.combine(day, at, tzinfo=tz)


def _shift_days(moment: datetime, days: int, tz) -> datetime:
    wall = moment.astimezone(tz).replace(tzinfo=None) - timedelta(days=days)
    return wall.replace(tzinfo=tz)


def _shift_month(moment: datetime, tz) -> datetime:
    wall = moment.astimezone(tz).replace(tzinfo=None)
    year, month = (wall.year, wall.month - 1) if wall.month > 1 else (wall.year - 1, 12)
    day = min(wall.day, calendar.monthrange(year, month)[1])
    return wall.replace(year=year, month=month, day=day).replace(tzinfo=tz)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _previous_month_start(day: date) -> date:
    first = _month_start(day)
    return _month_start(first - timedelta(days=1))


def resolve(key: str, *, tz, now: datetime, first: date | None = None, last: date | None = None) -> Period:
    """The period ``key`` as of ``now`` (custom: ``first``..``last``, already validated)."""
    today = now.astimezone(tz).date()
    if key == "today":
        first, last = today, today
    elif key in ("7d", "30d"):
        n = 7 if key == "7d" else 30
        first, last = today - timedelta(days=n - 1), today
    elif key == "month":
        first, last = _month_start(today), today
    elif key == "last_month":
        first = _previous_month_start(today)
        last = _month_start(today) - timedelta(days=1)
    elif key != "custom" or first is None or last is None:
        raise ValueError(key)
    start = _local(first, tz)
    end = min(_local(last + timedelta(days=1), tz), now)
    if key in ("month", "last_month"):
        previous = Span(_shift_month(start, tz), _shift_month(end, tz) if key == "month"
                        else _local(first, tz))
    else:
        n = (last - first).days + 1
        previous = Span(_shift_days(start, n, tz), _shift_days(end, n, tz))
    return Period(key=key, current=Span(start, end), previous=previous, first_day=first, last_day=last, tz=tz)


def to_date_spans(*, tz, now: datetime) -> dict[str, tuple[Span, Span]]:
    """Today, this week (from Monday) and this month so far, each with its previous equal period."""
    today = now.astimezone(tz).date()
    monday = today - timedelta(days=today.weekday())
    day_start, week_start, month_start = _local(today, tz), _local(monday, tz), _local(_month_start(today), tz)
    return {
        "today": (Span(day_start, now), Span(_shift_days(day_start, 1, tz), _shift_days(now, 1, tz))),
        "week": (Span(week_start, now), Span(_shift_days(week_start, 7, tz), _shift_days(now, 7, tz))),
        "month": (Span(month_start, now), Span(_shift_month(month_start, tz), _shift_month(now, tz))),
    }
