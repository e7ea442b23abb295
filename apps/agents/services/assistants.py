"""Assistants (create, update, delete, default, active), the tenant's AI settings and the default
assistant of each WhatsApp number.

Every rule about the values (threshold 0..1, memory 1..50, business hours "HH:MM" with open <
close, a real IANA time zone, tools from the registry, the plan's assistant limit) is checked
here, so the page and the API give the same answers; a broken value raises ``ValidationError``
with a message per field and nothing is stored.
"""
from __future__ import annotations

import functools
import re
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..models import Assistant, Decision, DecisionAction, Purpose, Tone, UsageDaily
from ..tools import all_tools

WEEKDAYS = ("0", "1", "2", "3", "4", "5", "6")
MAX_INTERVALS_PER_DAY = 2
THRESHOLD_RANGE = (0.0, 1.0)
MEMORY_RANGE = (1, 50)
DELAY_RANGE = (Decimal("0"), Decimal("30"))
BOT_RETURN_RANGE = (0, 168)

EDITABLE = ("name", "description", "purpose", "master_prompt", "tone", "greeting_message", "fallback_message",
            "wait_message", "return_message", "outside_hours_message", "business_hours", "time_zone",
            "confidence_threshold", "memory_size", "handoff_team", "enabled_tools", "provider",
            "typing_presence", "reply_delay_seconds", "is_active")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


# --- validation ----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> str:
    name = (value or "").strip()
    # membership, not ZoneInfo(name): that also opens files named by the value
    if name not in _zones():
        raise ValidationError(_("Unknown time zone “%(zone)s”. Use a name like America/Sao_Paulo.")
                              % {"zone": name}, code="time_zone")
    return name


def validate_business_hours(value) -> dict[str, list[list[str]]]:
    """``{"0": [["08:00", "12:00"], ["14:00", "18:00"]], ...}`` (0 = Monday; a missing or empty day
    is closed), normalised; ValidationError naming the day otherwise."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise ValidationError(_("Business hours must map weekdays (0 = Monday … 6 = Sunday) to opening times."),
                              code="hours")
    names = day_names()
    result: dict[str, list[list[str]]] = {}
    for raw_day, intervals in value.items():
        day = str(raw_day)
        if day not in WEEKDAYS:
            raise ValidationError(_("Unknown weekday “%(day)s”: use 0 (Monday) to 6 (Sunday).") % {"day": day},
                                  code="hours")
        if intervals in (None, []):
            continue
        if not isinstance(intervals, list) or len(intervals) > MAX_INTERVALS_PER_DAY:
            raise ValidationError(_("%(day)s: give up to %(n)s opening periods.") % {
                "day": names[int(day)], "n": MAX_INTERVALS_PER_DAY}, code="hours")
        clean: list[list[str]] = []
        for interval in intervals:
            if not isinstance(interval, (list, tuple)) or len(interval) != 2:
                raise ValidationError(_("%(day)s: each period is an opening and a closing time.") % {
                    "day": names[int(day)]}, code="hours")
            opens, closes = (str(t or "").strip() for t in interval)
            for moment in (opens, closes):
                if not _TIME.match(moment):
                    raise ValidationError(_("%(day)s: “%(time)s” is not a time in HH:MM (e.g. 08:30).") % {
                        "day": names[int(day)], "time": moment}, code="hours")
            if opens >= closes:
                raise ValidationError(_("%(day)s: the opening time (%(open)s) must come before the closing "
                                        "time (%(close)s).") % {"day": names[int(day)], "open": opens,
                                                                "close": closes}, code="hours")
            if clean and opens < clean[-1][1]:
                raise ValidationError(_("%(day)s: the second period must start after the first one ends.") % {
                    "day": names[int(day)]}, code="hours")
            clean.append([opens, closes])
        if clean:
            result[day] = clean
    return result


def day_names() -> list[str]:
    return [_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday")]


def tool_choices() -> list[tuple[str, str]]:
    return [(tool.name, str(tool.label or tool.name)) for tool in all_tools()]


def _validate(fields: dict) -> dict:
    """Checks and normalises ``fields`` (only those given); raises one ValidationError per field."""
    errors: dict[str, list[str]] = {}
    clean = dict(fields)

    def fail(field, message):
        errors.setdefault(field, []).append(str(message))

    if "name" in fields:
        clean["name"] = str(fields["name"] or "").strip()
        if not clean["name"]:
            fail("name", _("Give the assistant a name."))
    if "purpose" in fields and fields["purpose"] not in Purpose.values:
        fail("purpose", _("Choose a purpose."))
    if "tone" in fields and fields["tone"] not in Tone.values:
        fail("tone", _("Choose a tone."))
    if "confidence_threshold" in fields:
        try:
            value = float(fields["confidence_threshold"])
        except (TypeError, ValueError):
            value = -1.0
        if not THRESHOLD_RANGE[0] <= value <= THRESHOLD_RANGE[1]:
            fail("confidence_threshold", _("The confidence threshold goes from 0 to 1 (e.g. 0.5)."))
        clean["confidence_threshold"] = value
    if "memory_size" in fields:
        try:
            value = int(fields["memory_size"])
        except (TypeError, ValueError):
            value = 0
        if not MEMORY_RANGE[0] <= value <= MEMORY_RANGE[1]:
            fail("memory_size", _("The assistant can remember from 1 to 50 messages."))
        clean["memory_size"] = value
    if "reply_delay_seconds" in fields:
        try:
            value = Decimal(str(fields["reply_delay_seconds"]))
        except Exception:  # noqa: BLE001 - any non-number
            value = Decimal("-1")
        if not DELAY_RANGE[0] <= value <= DELAY_RANGE[1]:
            fail("reply_delay_seconds", _("The delay goes from 0 to 30 seconds."))
        clean["reply_delay_seconds"] = value
    if "time_zone" in fields:
        try:
            clean["time_zone"] = validate_time_zone(fields["time_zone"])
        except ValidationError as exc:
            fail("time_zone", exc.messages[0])
    if "business_hours" in fields:
        try:
            clean["business_hours"] = validate_business_hours(fields["business_hours"])
        except ValidationError as exc:
            fail("business_hours", exc.messages[0])
    if "enabled_tools" in fields:
        names = fields["enabled_tools"] or []
        known = {tool.name for tool in all_tools()}
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            fail("enabled_tools", _("Enabled tools must be a list of tool names."))
        else:
            unknown = sorted(set(names) - known)
            if unknown:
                fail("enabled_tools", _("Unknown tool: %(names)s.") % {"names": ", ".join(unknown)})
            clean["enabled_tools"] = sorted(set(names) & known)
    for message_field in ("greeting_message", "fallback_message", "wait_message", "return_message",
                          "outside_hours_message", "master_prompt", "description"):
        if message_field in fields:
            clean[message_field] = str(fields[message_field] or "").strip()
    if errors:
        raise ValidationError(errors)
    return clean


def assistant_limit(tenant) -> int | None:
    """How many assistants the plan allows (None: no limit)."""
    from apps.billing.selectors import plan_limit

    return plan_limit(tenant, "assistants")


def _check_plan_limit() -> None:
    from django.db import connection

    from apps.billing.selectors import within_limit
    from tenants.models import Tenant

    tenant = Tenant.objects.filter(schema_name=connection.schema_name).select_related("plan").first()
    if tenant is None:
        return
    if not within_limit(tenant, "assistants", used=Assistant.objects.count()):
        cap = assistant_limit(tenant)
        raise ValidationError(ngettext(
            "Your plan allows %(n)s assistant. Delete it or upgrade the plan to add another.",
            "Your plan allows %(n)s assistants. Delete one or upgrade the plan to add more.", cap) % {"n": cap},
            code="plan_limit")


# --- assistants ----------------------------------------------------------------------------------

def _clear_other_defaults(assistant: Assistant) -> None:
    # one default per tenant (partial unique index): clear the others first, in the same transaction
    Assistant.objects.filter(is_default=True).exclude(pk=assistant.pk).update(is_default=False)


@transaction.atomic
def assistant_create(*, name: str, documents=None, is_default: bool = False, **fields) -> Assistant:
    """A new assistant. The tools default to the registry's default-enabled ones; with no default
    assistant yet, the first becomes the default."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise TypeError(f"not editable: {', '.join(sorted(unknown))}")
    from ..tools import default_tool_names

    fields.setdefault("enabled_tools", default_tool_names())
    clean = _validate({"name": name, **fields})
    _check_plan_limit()
    if not Assistant.objects.filter(is_default=True).exists():
        is_default = True
    assistant = Assistant(**clean, is_default=is_default)
    if is_default:
        assistant.is_active = True
        _clear_other_defaults(assistant)
    assistant.save()
    if documents:
        assistant.documents.set(documents)
    return assistant


@transaction.atomic
def assistant_update(*, assistant: Assistant, documents=None, **fields) -> Assistant:
    """Change the given fields (``documents``: None leaves them, a list — even empty — replaces them;
    none chosen means the assistant reads every document)."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise TypeError(f"not editable: {', '.join(sorted(unknown))}")
    clean = _validate(fields)
    assistant = Assistant.objects.select_for_update().get(pk=assistant.pk)
    for key, value in clean.items():
        setattr(assistant, key, value)
    if "provider" in clean:
        # a different model endpoint: the error state was about the old one
        assistant.status, assistant.last_error = Assistant.Status.OK, ""
    assistant.updated_at = timezone.now()
    assistant.save()
    if documents is not None:
        assistant.documents.set(documents)
    return assistant


@transaction.atomic
def assistant_delete(*, assistant: Assistant) -> None:
    """Numbers bound to it fall back to the tenant default; its decisions stay (assistant SET_NULL)."""
    was_default = assistant.is_default
    assistant.delete()
    if was_default:
        # keep a default while any assistant is left, so new numbers keep being answered
        heir = Assistant.objects.filter(is_active=True).order_by("pk").first()
        if heir is not None:
            Assistant.objects.filter(pk=heir.pk).update(is_default=True, updated_at=timezone.now())


@transaction.atomic
def assistant_make_default(*, assistant: Assistant) -> Assistant:
    """The default answers every number without its own assistant; a default must be active."""
    _clear_other_defaults(assistant)
    Assistant.objects.filter(pk=assistant.pk).update(is_default=True, is_active=True, updated_at=timezone.now())
    assistant.is_default, assistant.is_active = True, True
    return assistant


@transaction.atomic
def assistant_set_active(*, assistant: Assistant, active: bool) -> Assistant:
    if not active and assistant.is_default:
        raise ValidationError(_("The default assistant cannot be switched off. Make another one the default "
                                "first."), code="default_inactive")
    Assistant.objects.filter(pk=assistant.pk).update(is_active=active, updated_at=timezone.now())
    assistant.is_active = active
    return assistant


# --- tenant settings and numbers -----------------------------------------------------------------

def retention_cap(tenant) -> int | None:
    """The plan's retention limit in days (None: the plan does not limit it)."""
    from apps.billing.selectors import plan_limit

    return plan_limit(tenant, "retention_days")


@transaction.atomic
def tenant_ai_settings_update(*, tenant, bot_return_hours: int, message_retention_days: int):
    """``bot_return_hours``: 0..168 (0 = the AI never takes a conversation back by itself).
    ``message_retention_days``: 0 keeps everything, unless the plan caps retention; then 1..cap."""
    from tenants.models import Tenant

    errors: dict[str, list[str]] = {}
    try:
        hours = int(bot_return_hours)
    except (TypeError, ValueError):
        hours = -1
    if not BOT_RETURN_RANGE[0] <= hours <= BOT_RETURN_RANGE[1]:
        errors["bot_return_hours"] = [_("Use 0 to 168 hours (0 = never).")]
    try:
        days = int(message_retention_days)
    except (TypeError, ValueError):
        days = -1
    cap = retention_cap(tenant)
    if days < 0:
        errors["message_retention_days"] = [_("Use a number of days, or 0 to keep everything.")]
    elif cap is not None and (days == 0 or days > cap):
        errors["message_retention_days"] = [_("Your plan keeps messages for up to %(cap)s days: use 1 to %(cap)s.")
                                            % {"cap": cap}]
    if errors:
        raise ValidationError(errors)
    # the tenant row lives in the public schema; update() writes it from any schema's search path
    Tenant.objects.filter(pk=tenant.pk).update(bot_return_hours=hours, message_retention_days=days)
    tenant.bot_return_hours, tenant.message_retention_days = hours, days
    return tenant


@transaction.atomic
def connection_set_default_assistant(*, connection, assistant: Assistant | None):
    """Which assistant answers this number (None: the tenant's default assistant)."""
    from apps.whatsapp.models import Connection

    Connection.objects.filter(pk=connection.pk).update(default_assistant=assistant)
    connection.default_assistant = assistant
    return connection


# --- reads shared by the pages and the API ------------------------------------------------------
# (They belong in apps/agents/selectors.py; they live here because that file has another owner.)

def tenant_zone(tenant) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(validate_time_zone(getattr(tenant, "timezone", "") or ""))
    except (ValidationError, zoneinfo.ZoneInfoNotFoundError):
        return zoneinfo.ZoneInfo("America/Sao_Paulo")


def tenant_today(tenant) -> date:
    return timezone.now().astimezone(tenant_zone(tenant)).date()


@dataclass
class DecisionFilters:
    action: str = ""
    assistant: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    conversation: int | None = None
    q: str = ""  # contact name or phone

    @classmethod
    def from_params(cls, params) -> "DecisionFilters":
        """Lenient: a value that does not parse is ignored (the form reports it)."""
        def as_int(name):
            value = str(params.get(name) or "").strip().lstrip("#")
            return int(value) if value.isdigit() and len(value) < 12 else None

        def as_date(name):
            try:
                return date.fromisoformat(str(params.get(name) or "").strip())
            except ValueError:
                return None

        action = str(params.get("action") or "")
        return cls(action=action if action in DecisionAction.values else "", assistant=as_int("assistant"),
                   date_from=as_date("date_from"), date_to=as_date("date_to"),
                   conversation=as_int("conversation"), q=str(params.get("q") or "").strip()[:100])

    def as_query(self) -> dict:
        data = {"action": self.action, "assistant": self.assistant, "conversation": self.conversation, "q": self.q,
                "date_from": self.date_from.isoformat() if self.date_from else None,
                "date_to": self.date_to.isoformat() if self.date_to else None}
        return {k: v for k, v in data.items() if v not in (None, "")}


def decision_visible(user) -> QuerySet[Decision]:
    """Decisions of the conversations ``user`` may see in the inbox (the same rule, in one place)."""
    from apps.inbox.selectors import conversation_visible

    return Decision.objects.filter(conversation__in=conversation_visible(user).values("pk"))


def decision_list(*, user, filters: DecisionFilters | None = None, tz=None) -> QuerySet[Decision]:
    f = filters or DecisionFilters()
    qs = decision_visible(user)
    if f.action:
        qs = qs.filter(action=f.action)
    if f.assistant:
        qs = qs.filter(assistant_id=f.assistant)
    if f.conversation:
        qs = qs.filter(conversation_id=f.conversation)
    zone = tz or zoneinfo.ZoneInfo("America/Sao_Paulo")
    if f.date_from:
        qs = qs.filter(created_at__gte=datetime.combine(f.date_from, time.min, tzinfo=zone))
    if f.date_to:
        qs = qs.filter(created_at__lt=datetime.combine(f.date_to + timedelta(days=1), time.min, tzinfo=zone))
    if f.q:
        match = Q(conversation__contact__name__icontains=f.q) | Q(conversation__contact__push_name__icontains=f.q)
        digits = "".join(ch for ch in f.q if ch.isdigit())
        if len(digits) >= 3:
            match |= Q(conversation__contact__phone__contains=digits)
        qs = qs.filter(match)
    return qs.select_related("conversation__contact", "assistant").order_by("-created_at", "-id")


def decision_get(*, user, pk) -> Decision:
    """One decision ``user`` may see; ``Decision.DoesNotExist`` otherwise (a 404 at the edge)."""
    return decision_visible(user).select_related("conversation__contact", "assistant", "conversation__connection"
                                                 ).get(pk=pk)


def decision_input_messages(decision: Decision) -> list:
    """The customer messages the turn answered, in order (those still in the conversation)."""
    from apps.inbox.models import Message

    ids = [i for i in (decision.input_message_ids or []) if isinstance(i, int)]
    if not ids:
        return []
    return list(Message.objects.filter(conversation_id=decision.conversation_id, pk__in=ids)
                .order_by("created_at", "id"))


def decision_reply_messages(decision: Decision) -> list:
    from apps.inbox.models import Message

    ids = [i for i in (decision.reply_message_ids or []) if isinstance(i, int)]
    if not ids:
        return []
    return list(Message.objects.filter(conversation_id=decision.conversation_id, pk__in=ids)
                .order_by("created_at", "id"))


@dataclass
class UsageMonth:
    month: date  # first day
    turns: int
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal
    handoffs: int
    limit: int | None  # the plan's ai_turns_per_month; None = unlimited

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def percent(self) -> int:
        if not self.limit:
            return 0
        return min(100, round(self.turns * 100 / self.limit))

    @property
    def handoff_percent(self) -> int:
        return round(self.handoffs * 100 / self.turns) if self.turns else 0

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.turns)

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.turns >= self.limit


def usage_month(*, tenant, today: date | None = None) -> UsageMonth:
    from apps.billing.selectors import plan_limit

    today = today or tenant_today(tenant)
    totals = UsageDaily.objects.filter(date__year=today.year, date__month=today.month).aggregate(
        turns=Sum("turns"), prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens"), cost=Sum("cost"),
        handoffs=Sum("handoffs"))
    return UsageMonth(month=today.replace(day=1), turns=totals["turns"] or 0, prompt_tokens=totals["prompt"] or 0,
                      completion_tokens=totals["completion"] or 0, cost=totals["cost"] or Decimal("0"),
                      handoffs=totals["handoffs"] or 0, limit=plan_limit(tenant, "ai_turns_per_month"))


def usage_days(*, tenant, days: int = 30, today: date | None = None) -> list[UsageDaily]:
    """The last ``days`` days, newest first, a zero row for a day without usage."""
    today = today or tenant_today(tenant)
    first = today - timedelta(days=days - 1)
    rows = {row.date: row for row in UsageDaily.objects.filter(date__gte=first, date__lte=today)}
    return [rows.get(day) or UsageDaily(date=day) for day in (today - timedelta(days=i) for i in range(days))]
