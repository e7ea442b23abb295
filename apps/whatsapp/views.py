"""Dashboard pages: Connections (admins) and the Sandbox simulator (anyone who may reply)."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.permissions import capability_required
from apps.core.crypto import mask

from . import selectors
from .forms import (CloudSettingsForm, ConnectionAddForm, ConnectionSettingsForm, SimulatorCustomerForm,
                    SimulatorForm, sandbox_connections)
from .models import Connection, ConnectionStatus, Provider
from .qr import qr_image_uri
from .services import connections as services
from .services import simulator
from .urls_util import webhook_url

MANAGE = "connections.manage"
REPLY = "conversations.reply"


# --- connections --------------------------------------------------------------------------------

def _settings_form(conn: Connection, data=None):
    initial = {"name": conn.name, "default_team": conn.default_team_id}
    if conn.provider == Provider.CLOUD_API:
        initial.update(phone_number_id=conn.instance_name, waba_id=conn.config.get("waba_id", ""))
        return CloudSettingsForm(data, connection=conn, initial=initial, prefix=f"c{conn.pk}")
    return ConnectionSettingsForm(data, connection=conn, initial=initial, prefix=f"c{conn.pk}")


def _card_context(conn: Connection, settings_form=None) -> dict:
    creds = conn.get_credentials()
    return {
        "conn": conn,
        "webhook_url": webhook_url(conn),
        "verify_token": creds.get("verify_token", "") if conn.provider == Provider.CLOUD_API else "",
        "masked": {key: mask(creds.get(key, "")) for key in ("access_token", "app_secret")},
        "settings_form": settings_form or _settings_form(conn),
    }


def _render_page(request, *, add_form=None, settings_forms=None, status=200):
    settings_forms = settings_forms or {}
    cards = [_card_context(c, settings_forms.get(c.pk)) for c in selectors.connections_list()]
    pair = request.GET.get("pair", "")
    context = {
        "cards": cards,
        "add_form": add_form or ConnectionAddForm(),
        "add_open": bool(add_form and add_form.errors),
        "pair_id": int(pair) if pair.isdigit() else None,
        "providers": Provider,
    }
    return render(request, "whatsapp/connections.html", context, status=status)


def _get(pk) -> Connection:
    return get_object_or_404(Connection, pk=pk)


@capability_required(MANAGE)
@require_GET
def connections(request):
    return _render_page(request)


@capability_required(MANAGE)
@require_POST
def connection_add(request):
    form = ConnectionAddForm(request.POST)
    if not form.is_valid():
        return _render_page(request, add_form=form, status=400)
    data = form.cleaned_data
    credentials, config, instance = None, None, ""
    if data["provider"] == Provider.CLOUD_API:
        credentials = {k: data[k] for k in ("access_token", "app_secret", "verify_token")}
        config = {"waba_id": data["waba_id"]} if data["waba_id"] else {}
        instance = data["phone_number_id"]
    conn = services.connection_add(name=data["name"], provider=data["provider"], credentials=credentials,
                                   config=config, instance_name=instance, default_team=data["default_team"],
                                   actor=request.user)
    return _after_action(request, conn, success=_("Connection %(name)s added.") % {"name": conn.name})


def _after_action(request, conn: Connection, *, success: str = "", error: str = ""):
    """Back to the page: the QR dialog opens for a number waiting for a scan; a provider error is
    an alert (the row stays, in error, with the reason on its card)."""
    if conn.status == ConnectionStatus.ERROR and not error:
        error = _("The provider answered: %(detail)s") % {"detail": conn.last_error}
    if error:
        messages.error(request, error)
    elif success:
        messages.success(request, success)
    url = reverse("whatsapp:connections")
    if conn.pk and conn.status == ConnectionStatus.AWAITING_QR and not error:
        url += f"?pair={conn.pk}"
    return redirect(url)


@capability_required(MANAGE)
@require_GET
def connection_card(request, pk):
    return render(request, "whatsapp/partials/connection_card.html", _card_context(_get(pk)))


@capability_required(MANAGE)
@require_GET
def connection_qr(request, pk):
    conn = _get(pk)
    return render(request, "whatsapp/partials/qr.html", {"conn": conn, "qr_image": qr_image_uri(conn.qr_code)})


@capability_required(MANAGE)
@require_POST
def connection_reconnect(request, pk):
    conn = _get(pk)
    try:
        services.connection_reconnect(conn, actor=request.user)
    except services.ConnectionActionError as exc:
        return _after_action(request, conn, error=exc.message)
    return _after_action(request, conn, success=_("Scan the new QR code with WhatsApp on the phone.")
                         if conn.status == ConnectionStatus.AWAITING_QR else _("Status updated."))


@capability_required(MANAGE)
@require_POST
def connection_refresh(request, pk):
    conn = _get(pk)
    try:
        services.connection_refresh(conn)
    except services.ConnectionActionError as exc:
        return _after_action(request, conn, error=exc.message)
    return _after_action(request, conn, success=_("Status updated."))


@capability_required(MANAGE)
@require_POST
def connection_disconnect(request, pk):
    conn = _get(pk)
    try:
        services.connection_disconnect(conn, actor=request.user)
    except services.ConnectionActionError as exc:
        return _after_action(request, conn, error=exc.message)
    return _after_action(request, conn, success=_("%(name)s was disconnected.") % {"name": conn.name})


@capability_required(MANAGE)
@require_POST
def connection_delete(request, pk):
    conn = _get(pk)
    name = conn.name
    services.connection_delete(conn, actor=request.user)
    messages.success(request, _("Connection %(name)s deleted.") % {"name": name})
    return redirect("whatsapp:connections")


@capability_required(MANAGE)
@require_POST
def connection_settings(request, pk):
    conn = _get(pk)
    form = _settings_form(conn, request.POST)
    if not form.is_valid():
        return _render_page(request, settings_forms={conn.pk: form}, status=400)
    services.connection_update_settings(conn, actor=request.user, **form.cleaned_data)
    return _after_action(request, conn, success=_("Settings of %(name)s saved.") % {"name": conn.name})


@capability_required(MANAGE)
@require_POST
def connection_test(request, pk):
    conn = _get(pk)
    try:
        result, ok = services.connection_test(conn, actor=request.user), True
    except services.ConnectionActionError as exc:
        result, ok = exc.message, False
    if request.htmx:
        return render(request, "whatsapp/partials/test_result.html", {"ok": ok, "result": result, "conn": conn})
    if ok:
        messages.success(request, result)
    else:
        messages.error(request, result)
    return redirect("whatsapp:connections")


# --- simulator ----------------------------------------------------------------------------------

def _transcript_context(conn: Connection | None, phone: str) -> dict:
    return simulator.transcript(conn, phone) if conn is not None and phone else {"items": [], "conversation": None}


@capability_required(REPLY)
@require_GET
def simulator_page(request):
    conns = list(sandbox_connections())
    wanted = request.GET.get("connection", "")
    current = next((c for c in conns if str(c.pk) == wanted), conns[0] if conns else None)
    form = SimulatorForm(initial={"connection": current.pk if current else None,
                                  "name": request.GET.get("name", ""), "phone": request.GET.get("phone", "")})
    return _render_simulator(request, form=form, current=current, conns=conns)


def _render_simulator(request, *, form, current, conns=None, phone: str = "", status=200):
    conns = conns if conns is not None else list(sandbox_connections())
    context = {"form": form, "connections": conns, "current": current, "phone": phone,
               "can_manage": _can_manage(request.user),
               **_transcript_context(current, phone)}
    return render(request, "whatsapp/simulator.html", context, status=status)


def _can_manage(user) -> bool:
    from apps.accounts.roles import user_can

    return user_can(user, MANAGE)


def _simulator_invalid(request, form):
    if request.htmx:
        return render(request, "whatsapp/partials/simulator_errors.html", {"form": form}, status=400)
    current = form.cleaned_data.get("connection")
    return _render_simulator(request, form=form, current=current, phone=form.cleaned_data.get("phone", ""),
                             status=400)


@capability_required(REPLY)
@require_POST
def simulator_send(request):
    form = SimulatorForm(request.POST)
    if not form.is_valid():
        return _simulator_invalid(request, form)
    data = form.cleaned_data
    try:
        simulator.simulator_send(data["connection"], name=data["name"], phone=data["phone"], text=data["text"])
    except ValidationError as exc:
        form.add_error(None, exc)
        return _simulator_invalid(request, form)
    if request.htmx:
        return render(request, "whatsapp/partials/transcript.html",
                      _transcript_context(data["connection"], data["phone"]))
    url = reverse("whatsapp:simulator") + f"?connection={data['connection'].pk}"
    return redirect(url)


@capability_required(REPLY)
@require_GET
def simulator_transcript(request):
    form = SimulatorCustomerForm(request.GET)
    if not form.is_valid():
        return render(request, "whatsapp/partials/transcript.html", {"items": [], "conversation": None})
    return render(request, "whatsapp/partials/transcript.html",
                  _transcript_context(form.cleaned_data["connection"], form.cleaned_data["phone"]))


@capability_required(REPLY)
@require_POST
def simulator_reset(request):
    form = SimulatorCustomerForm(request.POST)
    if form.is_valid():
        simulator.simulator_reset(form.cleaned_data["connection"], phone=form.cleaned_data["phone"],
                                  actor=request.user)
    if request.htmx:
        if not form.is_valid():
            return HttpResponse(status=400)
        return render(request, "whatsapp/partials/transcript.html",
                      _transcript_context(form.cleaned_data["connection"], form.cleaned_data["phone"]))
    return redirect(reverse("whatsapp:simulator"))
