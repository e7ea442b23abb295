"""The inbox pages: the WhatsApp Web-like page (list | chat | contact panel), the fragments its
script swaps in (list rows, bubbles, the panel), the chat actions, and the canned replies page.

A plain link works without script (every fragment has a full-page twin); with script the page
fetches fragments and listens on ``/ws/inbox/``. Conversations an agent may not see answer 404."""
from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.permissions import capability_required
from apps.accounts.roles import user_can
from apps.crm.models import Tag
from apps.whatsapp.models import Connection

from . import selectors
from .forms import AssignForm, CannedReplyForm, ComposerForm, StatusForm, TemplateSendForm, attachment_accept
from .forms import attachment_max_bytes
from .models import BotState, CannedReply, Conversation, Message, MessageType, SenderKind
from .selectors import ConversationFilters
from .services import canned as canned_services
from .services import conversations as conversation_services
from .services.conversations import UNSET


def inbox_access_required(view):
    """Signed in and allowed into the inbox (may reply, or may see every conversation)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not selectors.inbox_can_access(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _reply_required(request) -> None:
    if not selectors.inbox_can_reply(request.user):
        raise PermissionDenied


def _conversation(request, pk) -> Conversation:
    try:
        return selectors.conversation_get(user=request.user, pk=pk)
    except Conversation.DoesNotExist:
        raise Http404(_("Conversation not found.")) from None


def _message(request, pk) -> Message:
    try:
        return selectors.message_get(user=request.user, pk=pk)
    except Message.DoesNotExist:
        raise Http404(_("Message not found.")) from None


def _errors(exc: ValidationError) -> list[str]:
    return [str(m) for m in exc.messages]


def _form_errors(form) -> list[str]:
    return [str(e) for errors in form.errors.values() for e in errors]


def _json_error(messages: list[str], status: int = 400) -> JsonResponse:
    return JsonResponse({"errors": messages}, status=status)


# --- presentation helpers --------------------------------------------------------------------

def _date_label(day) -> str:
    today = timezone.localdate()
    if day == today:
        return _("Today")
    if (today - day).days == 1:
        return _("Yesterday")
    return date_format(day, "SHORT_DATE_FORMAT") if day.year != today.year else date_format(day, "j M")


def _rows(conversations):
    """Attach the list's time label (hour today, date before) and the sort key."""
    today = timezone.localdate()
    for c in conversations:
        at = c.last_message_at or c.created_at
        local = timezone.localtime(at)
        c.time_label = time_format(local, "H:i") if local.date() == today else _date_label(local.date())
        c.sort_key = f"{at.timestamp():.6f}"
    return conversations


def _present(messages: list[Message]) -> list[Message]:
    """Attach what the bubbles show: the event line in the reader's language, the local date."""
    for message in messages:
        message.local_date = timezone.localtime(message.created_at).date()
        message.date_label = _date_label(message.local_date)
        if message.type == MessageType.EVENT:
            known = conversation_services.event_text(message.payload or {})
            message.display_text = known or message.text
        else:
            message.display_text = message.text
        message.is_event = message.type == MessageType.EVENT
    return messages


def _crm_link(contact) -> str:
    for name in ("crm:contact-detail", "crm:contact"):
        try:
            return reverse(name, args=[contact.pk])
        except NoReverseMatch:
            continue
    return ""


def _window(conversation) -> dict | None:
    try:
        from apps.whatsapp.window import service_window
    except ImportError:
        return None
    try:
        window = service_window(conversation)
    except (LookupError, ImportError):  # a provider module that is not installed must not break the page
        return None
    if not window.get("applies"):
        return None
    left = int(window.get("seconds_left") or 0)
    window["label"] = _("%(h)sh %(m)smin") % {"h": left // 3600, "m": f"{(left % 3600) // 60:02d}"}
    return window


def _templates(conversation):
    from apps.whatsapp.models import MessageTemplate

    return MessageTemplate.objects.filter(connection_id=conversation.connection_id).exclude(
        status__in=["REJECTED", "DISABLED", "PAUSED", "rejected", "disabled", "paused"])


def _chat_context(request, conversation: Conversation) -> dict:
    page = selectors.message_history(conversation=conversation)
    window = _window(conversation)
    contact = conversation.contact
    notes = list(contact.contact_notes.select_related("author")[:3]) if hasattr(contact, "contact_notes") else []
    return {
        "conversation": conversation,
        "contact": contact,
        "chat_messages": _present(page.messages),
        "has_more": page.has_more,
        "can_reply": selectors.inbox_can_reply(request.user),
        "window": window,
        "templates": list(_templates(conversation)) if window and not window["open"] else [],
        "previous": list(selectors.contact_conversations(conversation=conversation, user=request.user)[:10]),
        "agents": list(selectors.assignable_agents()),
        "teams": list(selectors.team_choices()),
        "notes": notes,
        "crm_link": _crm_link(contact),
        "accept": attachment_accept(),
        "max_bytes": attachment_max_bytes(),
    }


def _list_context(request, filters: ConversationFilters, *, limit: int = 100) -> dict:
    conversations = _rows(list(selectors.conversation_list(user=request.user, filters=filters)[:limit]))
    return {"conversations": conversations, "filters": filters}


def _page_context(request, filters: ConversationFilters) -> dict:
    user = request.user
    if user_can(user, "conversations.view_all"):
        teams = list(selectors.team_choices())
    else:
        teams = list(selectors.team_choices().filter(members=user))
    canned = [{"shortcut": r.shortcut, "title": r.title, "text": r.text} for r in selectors.canned_reply_list()]
    return {
        **_list_context(request, filters),
        "filter_teams": teams,
        "connections": list(Connection.objects.order_by("name")),
        "tags": list(Tag.objects.order_by("name")),
        "canned": canned,
        "can_manage_canned": user_can(user, "canned.manage"),
        "bot_labels": {value: str(label) for value, label in BotState.choices},
        "max_bytes": attachment_max_bytes(),
    }


# --- the page ----------------------------------------------------------------------------------

@inbox_access_required
@require_GET
@never_cache
def inbox(request):
    filters = ConversationFilters.from_params(request.GET)
    return render(request, "inbox/index.html", {**_page_context(request, filters), "open": None})


@inbox_access_required
@require_GET
@never_cache
def conversation_detail(request, pk: int):
    """The chat (and the contact panel) of one conversation: a fragment for the page's script,
    the whole page otherwise. Opening it marks it read."""
    conversation = _conversation(request, pk)
    if conversation.unread_count:
        conversation_services.conversation_mark_read(conversation=conversation, user=request.user)
    context = _chat_context(request, conversation)
    if request.headers.get("HX-Request") or request.GET.get("fragment"):
        return render(request, "inbox/partials/chat_fragment.html", context)
    filters = ConversationFilters.from_params(request.GET)
    return render(request, "inbox/index.html", {**_page_context(request, filters), **context, "open": conversation})


@inbox_access_required
@require_GET
@never_cache
def conversation_list(request):
    filters = ConversationFilters.from_params(request.GET)
    return render(request, "inbox/partials/list.html", _list_context(request, filters))


@inbox_access_required
@require_GET
@never_cache
def conversation_row(request, pk: int):
    """One list row, if the conversation still matches the list's filters; 204 means "drop it"."""
    filters = ConversationFilters.from_params(request.GET)
    conversation = selectors.conversation_list(user=request.user, filters=filters).filter(pk=pk).first()
    if conversation is None:
        return HttpResponse(status=204)
    return render(request, "inbox/partials/row.html", {"c": _rows([conversation])[0], "filters": filters})


@inbox_access_required
@require_GET
@never_cache
def contact_panel(request, pk: int):
    conversation = _conversation(request, pk)
    return render(request, "inbox/partials/panel.html", _chat_context(request, conversation))


@inbox_access_required
@require_GET
@never_cache
def message_list(request, pk: int):
    """Bubbles of a conversation: ``before=<id>`` older ones (scroll up), ``after=<id>`` newer
    ones (after a reconnect). The ``X-Has-More`` header says whether older ones remain."""
    conversation = _conversation(request, pk)

    def as_id(name):
        value = request.GET.get(name, "")
        if value and not value.isdigit():
            raise ValidationError(name)
        return int(value) if value else None

    try:
        before, after = as_id("before"), as_id("after")
    except ValidationError:
        return _json_error([_("The message cursor must be a message id.")])
    page = selectors.message_history(conversation=conversation, before=before, after=after)
    response = render(request, "inbox/partials/messages.html", {
        "chat_messages": _present(page.messages), "conversation": conversation,
        "can_reply": selectors.inbox_can_reply(request.user)})
    response["X-Has-More"] = "1" if page.has_more else "0"
    return response


@inbox_access_required
@require_GET
@never_cache
def message_detail(request, pk: int):
    message = _message(request, pk)
    return render(request, "inbox/partials/bubble.html", {
        "m": _present([message])[0], "conversation": message.conversation, "with_date": True,
        "can_reply": selectors.inbox_can_reply(request.user)})


# --- chat actions ----------------------------------------------------------------------------

def _bubble(request, message, status=201):
    return render(request, "inbox/partials/bubble.html", {
        "m": _present([message])[0], "conversation": message.conversation, "with_date": True,
        "can_reply": True}, status=status)


@inbox_access_required
@require_POST
def message_send_view(request, pk: int):
    """The composer: text and/or one attachment. ``{{contact.name}}``-style variables are filled in
    here. Answers the new bubble (201) or ``{"errors": [...]}`` (400)."""
    _reply_required(request)
    conversation = _conversation(request, pk)
    from .services.messages import message_send

    if request.POST.get("template"):
        return _send_template(request, conversation)
    form = ComposerForm(request.POST, request.FILES)
    if not form.is_valid():
        return _json_error(_form_errors(form))
    text = canned_services.canned_render(form.cleaned_data["text"], conversation=conversation, agent=request.user)
    try:
        message = message_send(conversation, sender_kind=SenderKind.HUMAN, text=text, user=request.user,
                               type=form.type, media=form.cleaned_data.get("file"))
    except ValidationError as exc:
        return _json_error(_errors(exc))
    return _bubble(request, message)


def _send_template(request, conversation):
    """Cloud API, window closed: an approved template with its ``{{n}}`` values ("|"-separated)."""
    from apps.whatsapp.services.templates import template_outbound_payload, template_render_preview

    from .services.messages import message_send

    form = TemplateSendForm(request.POST)
    template = _templates(conversation).filter(pk=form.cleaned_data["template"]).first() if form.is_valid() else None
    if template is None:
        return _json_error([_("Choose a template.")])
    raw = form.cleaned_data.get("variables") or ""
    variables = [canned_services.canned_render(v.strip(), conversation=conversation, agent=request.user)
                 for v in raw.split("|")] if raw.strip() else []
    try:
        payload = template_outbound_payload(template, variables)
        message = message_send(conversation, sender_kind=SenderKind.HUMAN, user=request.user,
                               type=MessageType.TEMPLATE, text=template_render_preview(template, variables),
                               payload=payload)
    except ValidationError as exc:
        return _json_error(_errors(exc))
    return _bubble(request, message)


@inbox_access_required
@require_POST
def message_retry_view(request, pk: int):
    _reply_required(request)
    message = _message(request, pk)
    from .services.messages import message_retry

    try:
        message = message_retry(message)
    except ValidationError as exc:
        return _json_error(_errors(exc))
    return _bubble(request, message, status=200)


def _panel_response(request, conversation, *, error: list[str] | None = None):
    context = _chat_context(request, conversation)
    context["panel_errors"] = error or []
    return render(request, "inbox/partials/panel.html", context, status=400 if error else 200)


def _after_action(request, conversation, errors=None):
    """Script: the refreshed panel. Plain form: back to the chat."""
    if request.headers.get("HX-Request") or request.headers.get("X-Requested-With") == "fetch":
        return _panel_response(request, conversation, error=errors)
    return redirect("inbox:conversation-detail", pk=conversation.pk)


@inbox_access_required
@require_POST
def conversation_assign_view(request, pk: int):
    _reply_required(request)
    conversation = _conversation(request, pk)
    form = AssignForm(request.POST, user=request.user)
    if not form.is_valid():
        return _after_action(request, conversation, _form_errors(form))
    changes = form.changes()
    if not changes:
        return _after_action(request, conversation, [_("Choose an agent or a team.")])
    try:
        conversation_services.conversation_assign(
            conversation=conversation, assignee=changes.get("assignee", UNSET), team=changes.get("team", UNSET),
            by=request.user)
    except ValidationError as exc:
        return _after_action(request, conversation, _errors(exc))
    return _after_action(request, _reload(request, conversation))


def _reload(request, conversation):
    """The conversation as the user may see it now; an agent who handed it away may not any more."""
    try:
        return selectors.conversation_get(user=request.user, pk=conversation.pk)
    except Conversation.DoesNotExist:
        return conversation


@inbox_access_required
@require_POST
def conversation_status_view(request, pk: int):
    _reply_required(request)
    conversation = _conversation(request, pk)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _after_action(request, conversation, _form_errors(form))
    try:
        conversation_services.conversation_set_status(conversation=conversation, status=form.cleaned_data["status"],
                                                      by=request.user)
    except ValidationError as exc:
        return _after_action(request, conversation, _errors(exc))
    return _after_action(request, _reload(request, conversation))


@inbox_access_required
@require_POST
def conversation_bot_view(request, pk: int, action: str):
    _reply_required(request)
    conversation = _conversation(request, pk)
    from .services.bot import bot_pause, bot_resume

    try:
        (bot_pause if action == "pause" else bot_resume)(conversation, request.user)
    except ValidationError as exc:
        return _after_action(request, conversation, _errors(exc))
    return _after_action(request, _reload(request, conversation))


@inbox_access_required
@require_POST
def conversation_read_view(request, pk: int):
    conversation = _conversation(request, pk)
    conversation_services.conversation_mark_read(conversation=conversation, user=request.user)
    return HttpResponse(status=204)


# --- canned replies --------------------------------------------------------------------------

def _canned_page(request, form, *, editing=None, status=200):
    template = "inbox/canned/list.html"
    context = {"replies": selectors.canned_reply_list(q=request.GET.get("q", "").strip()[:100]),
               "form": form, "editing": editing, "q": request.GET.get("q", "")}
    if request.headers.get("HX-Request"):
        template = "inbox/canned/partials/section.html"
    return render(request, template, context, status=status)


def _canned_save(request, form, reply=None):
    """Validate with the form, then the service (format and uniqueness); errors go on the form."""
    if not form.is_valid():
        return None
    data = form.cleaned_data
    try:
        if reply is None:
            return canned_services.canned_reply_create(shortcut=data["shortcut"], text=data["text"],
                                                       title=data["title"], by=request.user)
        return canned_services.canned_reply_update(reply=reply, shortcut=data["shortcut"], text=data["text"],
                                                   title=data["title"])
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            for message in messages:
                form.add_error(field if field in form.fields else None, message)
        return None


@capability_required("canned.manage")
@require_http_methods(["GET", "POST"])
def canned_list(request):
    if request.method == "POST":
        form = CannedReplyForm(request.POST)
        if _canned_save(request, form) is None:
            return _canned_page(request, form, status=400)
        return _canned_done(request)
    return _canned_page(request, CannedReplyForm())


def _canned_done(request):
    """After a change: htmx gets the fresh section (and the list's address), a form the redirect."""
    if not request.headers.get("HX-Request"):
        return redirect("inbox:canned")
    response = _canned_page(request, CannedReplyForm())
    response["HX-Push-Url"] = reverse("inbox:canned")
    return response


@capability_required("canned.manage")
@require_http_methods(["GET", "POST"])
def canned_edit(request, pk: int):
    reply = get_object_or_404(CannedReply, pk=pk)
    if request.method == "POST":
        form = CannedReplyForm(request.POST)
        if _canned_save(request, form, reply) is None:
            reply.refresh_from_db()
            return _canned_page(request, form, editing=reply, status=400)
        return _canned_done(request)
    form = CannedReplyForm(initial={"shortcut": reply.shortcut, "title": reply.title, "text": reply.text})
    return _canned_page(request, form, editing=reply)


@capability_required("canned.manage")
@require_POST
def canned_delete(request, pk: int):
    reply = get_object_or_404(CannedReply, pk=pk)
    canned_services.canned_reply_delete(reply=reply)
    return _canned_done(request)
