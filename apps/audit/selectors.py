"""Reads for the audit page: model changes (django-auditlog) and actions (ActionLog), merged by time."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import timezone as dt_timezone

from auditlog.models import LogEntry
from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Page, Paginator
from django.db.models import CharField, F, Value
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from .actions import action_label
from .models import ActionLog

SOURCE_CHANGES = "changes"
SOURCE_ACTIONS = "actions"
PAGE_SIZE = 50
HIDDEN_FIELDS = {"id", "password", "last_login", "token"}

VERBS = {
    LogEntry.Action.CREATE: _("Created %(kind)s"),
    LogEntry.Action.UPDATE: _("Changed %(kind)s"),
    LogEntry.Action.DELETE: _("Deleted %(kind)s"),
    LogEntry.Action.ACCESS: _("Viewed %(kind)s"),
}
BOOLEANS = {"True": _("Yes"), "False": _("No")}


@dataclass
class AuditFilters:
    source: str = ""  # "", "changes" or "actions"
    actor_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass
class AuditRow:
    source: str
    at: datetime
    actor: str  # display name, or "" for the system
    actor_email: str
    summary: str
    target: str = ""
    changes: list[dict] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    ip: str = ""


def _source_qs(model, time_field: str, source: str, filters: AuditFilters):
    """(source, id, time) rows of one audit source, filtered; both sources share this shape."""
    qs = model.objects.all()
    if filters.actor_id:
        qs = qs.filter(actor_id=filters.actor_id)
    if filters.date_from:
        qs = qs.filter(**{f"{time_field}__date__gte": filters.date_from})
    if filters.date_to:
        qs = qs.filter(**{f"{time_field}__date__lte": filters.date_to})
    return qs.annotate(
        src=Value(source, output_field=CharField()),
        row_id=F("id"),
        at=F(time_field),
    ).values_list("src", "row_id", "at")


def _changes_qs(filters: AuditFilters):
    return _source_qs(LogEntry, "timestamp", SOURCE_CHANGES, filters)


def _actions_qs(filters: AuditFilters):
    return _source_qs(ActionLog, "created_at", SOURCE_ACTIONS, filters)


def _merged(filters: AuditFilters):
    if filters.source == SOURCE_CHANGES:
        qs = _changes_qs(filters)
    elif filters.source == SOURCE_ACTIONS:
        qs = _actions_qs(filters)
    else:
        qs = _changes_qs(filters).union(_actions_qs(filters), all=True)
    return qs.order_by("-at", "-row_id")


def _field_label(model, name: str):
    try:
        return getattr(model._meta.get_field(name), "verbose_name", name) if model else name
    except FieldDoesNotExist:
        return name


def _is_relation_list(model, name: str) -> bool:
    try:
        model_field = model._meta.get_field(name) if model else None
    except FieldDoesNotExist:
        return False
    return bool(model_field is not None and (model_field.many_to_many or model_field.one_to_many))


def _value_label(model, name: str, value):
    """A stored (string) value as a person reads it: choice labels, Yes/No, local date and time."""
    if value in (None, "None", ""):
        return ""
    if model is None:
        return value
    try:
        model_field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return value
    choices = dict(getattr(model_field, "flatchoices", None) or [])
    if choices:
        return choices.get(value, value)
    kind = model_field.get_internal_type() if hasattr(model_field, "get_internal_type") else ""
    if kind in ("BooleanField", "NullBooleanField"):
        return BOOLEANS.get(value, value)
    if kind == "DateTimeField":
        moment = parse_datetime(str(value))
        if moment is not None:
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment, dt_timezone.utc)
            return date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")
    return value


def _change_lines(entry: LogEntry) -> list[dict]:
    model = entry.content_type.model_class() if entry.content_type_id else None
    lines = []
    for name, values in (entry.changes or {}).items():
        if name in HIDDEN_FIELDS:
            continue
        label = _field_label(model, name)
        if not isinstance(values, dict) and _is_relation_list(model, name):
            continue  # a reverse or many-to-many relation stored as text says nothing useful
        if isinstance(values, dict):  # many-to-many: {"type": "m2m", "operation": "add", "objects": [...]}
            op = _("added") if values.get("operation") == "add" else _("removed")
            lines.append({"field": label, "m2m": op, "objects": ", ".join(map(str, values.get("objects", [])))})
        elif isinstance(values, (list, tuple)) and len(values) == 2:
            old, new = (_value_label(model, name, v) for v in values)
            if entry.action == LogEntry.Action.CREATE and new in ("", BOOLEANS["False"]):
                continue  # a new record: list what was filled in, not every empty default
            lines.append({"field": label, "old": old, "new": new,
                          "only_new": entry.action == LogEntry.Action.CREATE})
    return lines


def _actor_display(actor, fallback_email: str) -> tuple[str, str]:
    if actor is not None:
        return str(actor), actor.email
    return (fallback_email or "", fallback_email or "")


def _change_row(entry: LogEntry) -> AuditRow:
    model = entry.content_type.model_class() if entry.content_type_id else None
    kind = model._meta.verbose_name if model else entry.content_type.model
    name, email = _actor_display(entry.actor, entry.actor_email)
    return AuditRow(
        source=SOURCE_CHANGES, at=entry.timestamp, actor=name, actor_email=email,
        summary=str(VERBS.get(entry.action, "%(kind)s")) % {"kind": kind},
        target=entry.object_repr, changes=_change_lines(entry), ip=entry.remote_addr or "",
    )


def _action_row(entry: ActionLog) -> AuditRow:
    name, email = _actor_display(entry.actor, entry.actor_label)
    return AuditRow(
        source=SOURCE_ACTIONS, at=entry.created_at, actor=name, actor_email=email,
        summary=str(action_label(entry.action)), target=entry.target_label, details=entry.details or {},
        ip=entry.ip or "",
    )


def audit_page(*, filters: AuditFilters, page: int | str = 1, per_page: int = PAGE_SIZE) -> tuple[Page, list[AuditRow]]:
    """One page of the merged audit trail, newest first, and its rows ready to show."""
    paginator = Paginator(_merged(filters), per_page)
    current = paginator.get_page(page)
    keys = list(current.object_list)
    change_ids = [row_id for src, row_id, _at in keys if src == SOURCE_CHANGES]
    action_ids = [row_id for src, row_id, _at in keys if src == SOURCE_ACTIONS]
    changes = LogEntry.objects.select_related("actor", "content_type").in_bulk(change_ids)
    actions = ActionLog.objects.select_related("actor").in_bulk(action_ids)
    rows = []
    for src, row_id, _at in keys:
        if src == SOURCE_CHANGES and row_id in changes:
            rows.append(_change_row(changes[row_id]))
        elif src == SOURCE_ACTIONS and row_id in actions:
            rows.append(_action_row(actions[row_id]))
    return current, rows
