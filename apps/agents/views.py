"""The AI pages: assistants (list, form, default, active, delete), model providers (write-only
key, the "Test" call), the tenant's AI settings and each number's assistant, AI activity (the
decision log, and one decision: "why this answer?"), usage against the plan, and the inbox's
"Summarize conversation".

Managing assistants needs ``assistants.manage``. A decision and a summary follow the inbox's
rule instead: whoever may see the conversation in the inbox may see them; others get 404."""
from __future__ import annotations

import json
from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.permissions import capability_required
from apps.accounts.roles import user_can
from apps.inbox import selectors as inbox_selectors
from apps.inbox.models import Conversation
from apps.inbox.views import inbox_access_required
from apps.whatsapp.models import Connection

from . import selectors
from .defaults import MESSAGE_FIELDS, default_messages
from .forms import (COMMON_TIME_ZONES, PRESETS, ActivityFilterForm, AssistantForm, ConnectionAssistantForm,
                    ProviderForm, TenantAISettingsForm, provider_masked_key)
from .llm import LLMError
from .models import Assistant, Decision, ModelProvider, Tone
from .services import assistants as services
from .services import providers as provider_services

MANAGE = "assistants.manage"
ACTIVITY_PAGE_SIZE = 25


def _is_fragment(request) -> bool:
    return bool(request.htmx) or request.GET.get("fragment") == "1" \
        or request.headers.get("X-Requested-With") == "fetch"


def _with_modes(assistants) -> list[Assistant]:
    """Attach ``generative`` (a provider with a key answers) without a query per row."""
    default = selectors.default_provider()
    rows = list(assistants)
    for assistant in rows:
        provider = assistant.provider if assistant.provider_id else default
        assistant.generative = provider is not None and provider.has_key
        assistant.effective_provider = provider
    return rows


# --- assistants ----------------------------------------------------------------------------------

def _index_context(request, *, settings_form=None) -> dict:
    tenant = request.tenant
    cap = services.retention_cap(tenant)
    assistants = _with_modes(Assistant.objects.select_related("provider", "handoff_team"))
    if settings_form is None:
        settings_form = TenantAISettingsForm(
            initial={"bot_return_hours": tenant.bot_return_hours,
                     "message_retention_days": tenant.message_retention_days}, retention_cap=cap)
    limit = services.assistant_limit(tenant)
    return {
        "tab": "assistants",
        "assistants": assistants,
        "assistant_limit": limit,
        "at_limit": limit is not None and len(assistants) >= limit,
        "any_generative": any(a.generative for a in assistants),
        "default_provider": selectors.default_provider(),
        "settings_form": settings_form,
        "retention_cap": cap,
        "connections": list(Connection.objects.select_related("default_assistant").order_by("name")),
        "assistant_choices": [a for a in assistants],
    }


@capability_required(MANAGE)
@require_GET
@never_cache
def index(request):
    return render(request, "agents/index.html", _index_context(request))


def _form_page(request, form, *, assistant=None, status=200):
    defaults = {tone: default_messages(tone) for tone in Tone.values}
    hours_error = any(name.startswith("hours_") or name == "time_zone" for name in form.errors)
    return render(request, "agents/assistant_form.html", {
        "tab": "assistants", "form": form, "assistant": assistant, "tone_defaults": defaults,
        "message_fields": [form[name] for name in MESSAGE_FIELDS], "hours_error": hours_error,
        "time_zones": COMMON_TIME_ZONES, "open_sections": form.error_sections() if form.is_bound else set(),
        "generative": assistant is not None and selectors.is_generative(assistant),
        "has_providers": ModelProvider.objects.exists(),
    }, status=status)


def _save_assistant(request, form, assistant=None):
    """Validate with the form, then the service; service errors land on the form."""
    if not form.is_valid():
        return None
    fields = form.service_fields()
    documents = list(form.cleaned_data.get("documents") or [])
    try:
        if assistant is None:
            return services.assistant_create(documents=documents, **fields)
        return services.assistant_update(assistant=assistant, documents=documents, **fields)
    except ValidationError as exc:
        form.add_service_errors(exc, mapping={"business_hours": "hours_0_open"})
        return None


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def assistant_create(request):
    if request.method == "POST":
        form = AssistantForm(request.POST)
        assistant = _save_assistant(request, form)
        if assistant is None:
            return _form_page(request, form, status=400)
        messages.success(request, _("Assistant %(name)s created.") % {"name": assistant.name})
        return redirect("agents:index")
    return _form_page(request, AssistantForm(initial=AssistantForm.initial_for(None)))


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def assistant_edit(request, pk: int):
    assistant = get_object_or_404(Assistant, pk=pk)
    if request.method == "POST":
        form = AssistantForm(request.POST)
        saved = _save_assistant(request, form, assistant)
        if saved is None:
            return _form_page(request, form, assistant=assistant, status=400)
        messages.success(request, _("Changes to %(name)s saved.") % {"name": saved.name})
        return redirect("agents:index")
    return _form_page(request, AssistantForm(initial=AssistantForm.initial_for(assistant)), assistant=assistant)


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def assistant_delete(request, pk: int):
    assistant = get_object_or_404(Assistant, pk=pk)
    if request.method == "POST":
        name = assistant.name
        services.assistant_delete(assistant=assistant)
        messages.success(request, _("Assistant %(name)s deleted.") % {"name": name})
        return redirect("agents:index")
    return render(request, "agents/confirm_delete.html", {
        "tab": "assistants", "title": _("Delete the assistant %(name)s?") % {"name": assistant.name},
        "warning": _("Numbers that use it will be answered by the default assistant. Its past decisions stay in "
                     "AI activity."),
        "action": reverse("agents:assistant-delete", args=[assistant.pk]), "cancel": reverse("agents:index")})


@capability_required(MANAGE)
@require_POST
def assistant_make_default(request, pk: int):
    assistant = get_object_or_404(Assistant, pk=pk)
    services.assistant_make_default(assistant=assistant)
    messages.success(request, _("%(name)s is now the default assistant.") % {"name": assistant.name})
    return redirect("agents:index")


@capability_required(MANAGE)
@require_POST
def assistant_set_active(request, pk: int):
    assistant = get_object_or_404(Assistant, pk=pk)
    active = request.POST.get("active") == "1"
    try:
        services.assistant_set_active(assistant=assistant, active=active)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("agents:index")
    messages.success(request, (_("%(name)s is on.") if active else _("%(name)s is off.")) % {"name": assistant.name})
    return redirect("agents:index")


# --- tenant settings, numbers --------------------------------------------------------------------

@capability_required(MANAGE)
@require_POST
def settings_save(request):
    tenant = request.tenant
    form = TenantAISettingsForm(request.POST, retention_cap=services.retention_cap(tenant))
    if form.is_valid():
        try:
            services.tenant_ai_settings_update(tenant=tenant, **form.cleaned_data)
        except ValidationError as exc:
            form.add_service_errors(exc)
    if form.errors:
        return render(request, "agents/index.html", _index_context(request, settings_form=form), status=400)
    messages.success(request, _("AI settings saved."))
    return redirect(reverse("agents:index") + "#settings")


@capability_required(MANAGE)
@require_POST
def connection_assistant(request, pk: int):
    connection = get_object_or_404(Connection, pk=pk)
    form = ConnectionAssistantForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of your assistants."))
        return redirect(reverse("agents:index") + "#numbers")
    assistant = form.cleaned_data["assistant"]
    services.connection_set_default_assistant(connection=connection, assistant=assistant)
    if assistant is None:
        messages.success(request, _("%(number)s is answered by the default assistant.") % {"number": connection.name})
    else:
        messages.success(request, _("%(number)s is answered by %(name)s.") % {"number": connection.name,
                                                                               "name": assistant.name})
    return redirect(reverse("agents:index") + "#numbers")


# --- model providers -----------------------------------------------------------------------------

def _provider_rows():
    providers = list(ModelProvider.objects.all())
    for provider in providers:
        provider.masked_key = provider_masked_key(provider)
    return providers


@capability_required(MANAGE)
@require_GET
@never_cache
def providers(request):
    return render(request, "agents/providers.html", {"tab": "providers", "providers": _provider_rows()})


def _provider_form_page(request, form, *, provider=None, status=200):
    return render(request, "agents/provider_form.html", {
        "tab": "providers", "form": form, "provider": provider, "presets": PRESETS,
        "masked_key": provider_masked_key(provider) if provider is not None else ""}, status=status)


@sensitive_post_parameters("api_key")
@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def provider_create(request):
    if request.method == "POST":
        form = ProviderForm(request.POST)
        if form.is_valid():
            try:
                provider = provider_services.provider_create(
                    api_key=form.cleaned_data["api_key"], is_default=form.cleaned_data["is_default"],
                    **form.service_fields())
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("Provider %(name)s added. Use Test to check it answers.") % {
                    "name": provider.name})
                return redirect("agents:providers")
        return _provider_form_page(request, form, status=400)
    return _provider_form_page(request, ProviderForm(initial={"is_default": not ModelProvider.objects.exists()}))


@sensitive_post_parameters("api_key")
@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def provider_edit(request, pk: int):
    provider = get_object_or_404(ModelProvider, pk=pk)
    if request.method == "POST":
        form = ProviderForm(request.POST, provider=provider)
        if form.is_valid():
            try:
                provider = provider_services.provider_update(
                    provider=provider, api_key=form.cleaned_data["api_key"],
                    remove_key=form.cleaned_data.get("remove_key", False),
                    is_default=form.cleaned_data["is_default"], **form.service_fields())
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("Changes to %(name)s saved.") % {"name": provider.name})
                return redirect("agents:providers")
        return _provider_form_page(request, form, provider=provider, status=400)
    return _provider_form_page(request, ProviderForm(initial=ProviderForm.initial_for(provider), provider=provider),
                               provider=provider)


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def provider_delete(request, pk: int):
    provider = get_object_or_404(ModelProvider, pk=pk)
    if request.method == "POST":
        name = provider.name
        provider_services.provider_delete(provider=provider)
        messages.success(request, _("Provider %(name)s deleted.") % {"name": name})
        return redirect("agents:providers")
    return render(request, "agents/confirm_delete.html", {
        "tab": "providers", "title": _("Delete the provider %(name)s?") % {"name": provider.name},
        "warning": _("Its API key is deleted with it. Assistants that use it switch to the company default, or to "
                     "retrieval-only mode when there is none."),
        "action": reverse("agents:provider-delete", args=[provider.pk]), "cancel": reverse("agents:providers")})


@capability_required(MANAGE)
@require_POST
def provider_test(request, pk: int):
    """A real call to the provider; htmx gets the refreshed card with the outcome."""
    provider = get_object_or_404(ModelProvider, pk=pk)
    result = provider_services.provider_test(provider=provider)
    if request.htmx:
        provider.masked_key = provider_masked_key(provider)
        return render(request, "agents/partials/provider_card.html", {"p": provider, "test": result})
    (messages.success if result.ok else messages.error)(request, result.message)
    return redirect("agents:providers")


# --- AI activity ---------------------------------------------------------------------------------

def _decision_access_required(view):
    """Signed in, and either managing assistants or working in the inbox; the visibility of the
    conversation is checked by the selector (404)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (user_can(request.user, MANAGE) or inbox_selectors.inbox_can_access(request.user)):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


@capability_required(MANAGE)
@require_GET
@never_cache
def activity(request):
    form = ActivityFilterForm(request.GET or None)
    if form.is_bound:
        form.is_valid()
    zone = services.tenant_zone(request.tenant)
    decisions = services.decision_list(user=request.user, filters=form.filters(), tz=zone)
    page = Paginator(decisions, ACTIVITY_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"tab": "activity", "form": form, "page": page, "query": query.urlencode(), "zone": zone}
    if request.htmx and request.htmx.target == "activity-results":
        return render(request, "agents/partials/activity_results.html", context)
    return render(request, "agents/activity.html", context)


def _pretty(value) -> str:
    if value in (None, "", {}, []):
        return ""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def _decision_context(request, decision) -> dict:
    threshold = decision.assistant.confidence_threshold if decision.assistant_id else None
    chunks = []
    for chunk in decision.chunks or []:
        if not isinstance(chunk, dict):
            continue
        score = chunk.get("score")
        chunks.append({**chunk, "bar": max(0, min(100, round(float(score or 0) * 100)))
                       if isinstance(score, (int, float)) else 0})
    calls = []
    for call in decision.tool_calls or []:
        if isinstance(call, dict):
            calls.append({"name": call.get("name", ""), "ok": call.get("ok", "error" not in call),
                          "arguments": _pretty(call.get("arguments")), "result": _pretty(call.get("result")),
                          "error": call.get("error") or ""})
    conversation = decision.conversation
    return {
        "tab": "activity", "decision": decision, "contact": conversation.contact,
        "input_messages": services.decision_input_messages(decision),
        "reply_messages": services.decision_reply_messages(decision),
        "threshold": threshold,
        "confident": None if decision.confidence is None or threshold is None else decision.confidence >= threshold,
        "confidence_bar": max(0, min(100, round((decision.confidence or 0) * 100))),
        "threshold_bar": None if threshold is None else max(0, min(100, round(threshold * 100))),
        "chunks": chunks, "tool_calls": calls,
        "tokens": decision.prompt_tokens + decision.completion_tokens,
        "conversation_url": reverse("inbox:conversation-detail", args=[conversation.pk]),
        "can_manage": user_can(request.user, MANAGE), "zone": services.tenant_zone(request.tenant),
    }


@_decision_access_required
@require_GET
@never_cache
def decision_detail(request, pk: int):
    try:
        decision = services.decision_get(user=request.user, pk=pk)
    except Decision.DoesNotExist:
        raise Http404(_("Decision not found.")) from None
    context = _decision_context(request, decision)
    if _is_fragment(request):
        return render(request, "agents/partials/decision_detail.html", context)
    return render(request, "agents/decision.html", context)


# --- usage ---------------------------------------------------------------------------------------

@capability_required(MANAGE)
@require_GET
@never_cache
def usage(request):
    tenant = request.tenant
    days = services.usage_days(tenant=tenant)
    peak = max((d.turns for d in days), default=0) or 1
    for day in days:
        day.bar = round(day.turns * 100 / peak)
        day.tokens = day.prompt_tokens + day.completion_tokens
    return render(request, "agents/usage.html", {
        "tab": "usage", "month": services.usage_month(tenant=tenant), "days": days,
        "plan": tenant.plan})


# --- summarize (inbox) ---------------------------------------------------------------------------

@inbox_access_required
@require_POST
def conversation_summary(request, pk: int):
    """The inbox's "Summarize conversation": the model's summary, or in retrieval-only mode an
    extract of the key messages. Upstream failures are a 502 with a readable message."""
    try:
        conversation = inbox_selectors.conversation_get(user=request.user, pk=pk)
    except Conversation.DoesNotExist:
        raise Http404(_("Conversation not found.")) from None
    provider = selectors.provider_for(selectors.assistant_for_conversation(conversation))
    generative = provider is not None and provider.has_key
    context = {"conversation": conversation, "generative": generative, "summary": "", "error": ""}
    try:
        from .services.summary import conversation_summarize
    except ImportError:  # the summary service ships separately; the page must not break without it
        context["error"] = _("Summaries are not available yet.")
        return render(request, "agents/partials/summary.html", context, status=503)
    try:
        context["summary"] = conversation_summarize(conversation)
    except LLMError as exc:
        detail = provider_services.scrub(str(exc), provider.api_key if provider is not None else "")[:300]
        context["error"] = _("The AI model could not write the summary: %(detail)s") % {"detail": detail}
        return render(request, "agents/partials/summary.html", context, status=502)
    return render(request, "agents/partials/summary.html", context)
