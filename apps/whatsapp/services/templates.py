"""Cloud API message templates: the only messages allowed once the 24-hour customer-service window
is closed. ``templates_sync`` mirrors the account's approved templates into MessageTemplate rows;
``template_render_preview`` and ``template_outbound_payload`` check the variables staff filled in."""
from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..models import Connection, MessageTemplate
from ..providers import get_provider

VARIABLE = re.compile(r"\{\{\s*(\d+)\s*\}\}")


def template_body(components: list) -> str:
    """The text of the BODY component ("" when there is none)."""
    for component in components or []:
        if isinstance(component, dict) and str(component.get("type", "")).upper() == "BODY":
            return str(component.get("text") or "")
    return ""


def template_variable_count(components: list) -> int:
    """How many distinct ``{{n}}`` variables the BODY has (``{{1}}`` twice counts once)."""
    return len(set(VARIABLE.findall(template_body(components))))


@transaction.atomic
def templates_sync(connection: Connection) -> int:
    """Fetch the account's templates and keep only the approved ones as rows (insert or update by
    name + language; rows no longer approved or gone from the account are deleted). Returns how
    many approved templates the connection has now. Provider errors propagate unchanged (their
    text is readable) and leave the existing rows as they were."""
    remote = get_provider(connection.provider).sync_templates(connection)
    now = timezone.now()
    kept: set[tuple[str, str]] = set()
    for item in remote:
        if str(item.get("status", "")).upper() != "APPROVED" or not item.get("name") or not item.get("language"):
            continue
        key = (str(item["name"]), str(item["language"]))
        if key in kept:
            continue
        kept.add(key)
        components = item.get("components") or []
        MessageTemplate.objects.update_or_create(
            connection=connection, name=key[0], language=key[1],
            defaults={"category": str(item.get("category") or ""), "status": str(item["status"]).upper(),
                      "components": components, "variable_count": template_variable_count(components),
                      "synced_at": now},
        )
    stale = [pk for pk, name, language in connection.templates.values_list("pk", "name", "language")
             if (name, language) not in kept]
    if stale:
        MessageTemplate.objects.filter(pk__in=stale).delete()
    return len(kept)


def template_check_variables(template: MessageTemplate, variables: list[str]) -> list[str]:
    """The variables, stripped, or a ValidationError saying what is wrong."""
    values = [str(v).strip() for v in variables or []]
    if len(values) != template.variable_count:
        raise ValidationError(
            ngettext("The template “%(name)s” needs %(expected)d variable, %(given)d given.",
                     "The template “%(name)s” needs %(expected)d variables, %(given)d given.",
                     template.variable_count)
            % {"name": template.name, "expected": template.variable_count, "given": len(values)},
            code="template_variables",
        )
    empty = [str(i) for i, value in enumerate(values, start=1) if not value]
    if empty:
        raise ValidationError(
            _("Fill in the template variable(s) %(numbers)s.") % {"numbers": ", ".join(f"{{{{{n}}}}}" for n in empty)},
            code="template_variables",
        )
    return values


def template_render_preview(template: MessageTemplate, variables: list[str]) -> str:
    """The body as the customer will read it, with ``{{n}}`` replaced by the n-th variable."""
    values = template_check_variables(template, variables)
    return VARIABLE.sub(lambda match: values[int(match.group(1)) - 1] if 0 < int(match.group(1)) <= len(values)
                        else match.group(0), template_body(template.components))


def template_outbound_payload(template: MessageTemplate, variables: list[str]) -> dict:
    """The Message/OutboundMessage payload for a template send: {name, language, variables}."""
    return {"name": template.name, "language": template.language,
            "variables": template_check_variables(template, variables)}
