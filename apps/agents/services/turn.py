"""The AI turn: what the assistant does with the customer messages of one debounce window.

Order of work (each step documented where it happens):

1. skip (return False, decision ``skipped``): no active assistant, the tenant is blocked, the bot is
   not ``ai_active`` (re-checked under the row lock: a human may have taken over while the turn
   was buffering), or a flow run handles the conversation;
2. quota: the plan's ``ai_turns_per_month`` used up -> fallback message, hand-off, the tenant's
   admins told once a month;
3. input (the turn's messages, in order), memory (the last ``memory_size`` messages before them)
   and retrieval over the assistant's documents;
4. retrieval-only mode (no key): answer with the best passage when confidence clears the
   threshold, else fallback + hand-off. Generative mode: the same hand-off without a model call
   when the question needs knowledge and retrieval found none (see ``needs_knowledge``), otherwise
   the model with the context block and the tool loop;
5. send: under the conversation's lock, re-check ``ai_active`` (a human who took over during a
   slow model call wins), send the replies through the outbox, hand off when needed, complete the
   decision and the day's usage in the same transaction.

The customer is never left without an answer or a hand-off: model errors, tool failures and bugs
end in the fallback message and a hand-off, with the error in the decision.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from apps.inbox.models import BotState, Conversation, Direction, Message, MessageStatus, MessageType, SenderKind

from .. import prompts
from ..builtin_tools import is_open
from ..defaults import message_for
from ..llm import LLMAuthError, LLMError, ToolCall, client_for, parse_arguments
from ..models import Assistant, DecisionAction, ModelProvider
from ..selectors import assistant_for_conversation, provider_for
from ..tools import Tool, ToolContext, get_tool
from . import usage
from .decisions import decision_create, decision_skip, decision_update

log = logging.getLogger(__name__)

QUERY_MAX_CHARS = 1000  # what retrieval is asked (the turn's text, trimmed)
RETRIEVAL_LIMIT = 5


def flow_handles(conversation) -> bool:
    """Hook for the flow engine: True when a flow run is handling ``conversation`` (then the
    assistant stays out). There is no flows app yet, so nothing ever is; the flow engine will
    either replace this check or register its own turn handler first (apps.inbox.turns)."""
    return False


def current_tenant():
    from tenants.models import Tenant

    return Tenant.objects.filter(schema_name=db_connection.schema_name).select_related("plan").first()


@dataclass
class TurnRun:
    """Everything one turn gathers; becomes the decision."""

    turn: object
    conversation: Conversation
    assistant: Assistant
    tenant: object
    started: float
    provider: ModelProvider | None = None
    mode: str = "retrieval"
    messages: list = field(default_factory=list)
    input_text: str = ""
    query: str = ""
    chunks: list[dict] = field(default_factory=list)
    confidence: float = 0.0
    searched: bool = False  # retrieval ran (small talk and empty turns skip it)
    tool_calls: list[dict] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    error: str = ""
    decision: object = None
    first_turn: bool = False
    presence_sent: bool = False
    card: dict | None = None  # an ordering tool's card for staff ({"order_id", "card", "order"}), on the reply

    @property
    def day(self):
        """The tenant's local date (metering and the monthly quota)."""
        return usage.local_day(getattr(self.tenant, "timezone", ""))

    @property
    def language(self) -> str:
        return getattr(self.tenant, "language", "") or settings.LANGUAGE_CODE


# --- entry point -------------------------------------------------------------------------------


def turn_handle(turn) -> bool:
    started = time.monotonic()
    conversation = Conversation.objects.select_related("contact", "connection").get(pk=turn.conversation_id)
    assistant = assistant_for_conversation(conversation)
    if assistant is None:
        decision_skip(conversation=conversation, turn=turn, reason="no_assistant")
        return False
    tenant = current_tenant()
    reason = _skip_reason(conversation, tenant)
    if reason:
        decision_skip(conversation=conversation, turn=turn, assistant=assistant, reason=reason,
                      latency_ms=_ms(started))
        return False
    run = TurnRun(turn=turn, conversation=conversation, assistant=assistant, tenant=tenant, started=started)
    run.provider = provider_for(assistant)
    run.mode = "generative" if run.provider is not None and run.provider.has_key else "retrieval"
    with translation.override(run.language):  # defaults and notices in the tenant's language
        try:
            return _run(run)
        except Exception as exc:  # noqa: BLE001 - a bug must still leave the customer with a person
            log.exception("AI turn %s of conversation %s failed", getattr(turn, "pk", None), conversation.pk)
            run.error = f"{exc.__class__.__name__}: {exc}"
            try:
                _conclude(run, action=DecisionAction.ERROR, reason="internal_error", handoff=True,
                          replies=[message_for(assistant, "fallback_message")])
            except Exception:  # noqa: BLE001
                log.exception("AI turn %s: the fallback hand-off failed too", getattr(turn, "pk", None))
                raise exc from None
            return True


def _ms(started: float) -> int:
    return max(0, int((time.monotonic() - started) * 1000))


def _skip_reason(conversation: Conversation, tenant) -> str:
    if tenant is not None and tenant.is_blocked:
        return "tenant_blocked"
    with transaction.atomic():
        # the turn was buffered for seconds: a human may have taken over since it was scheduled
        state = Conversation.objects.select_for_update().filter(pk=conversation.pk).values_list(
            "bot_state", flat=True).first()
    if state is None:
        return "conversation_gone"
    conversation.bot_state = state
    if state != BotState.AI_ACTIVE:
        return f"bot_{state}"
    if flow_handles(conversation):
        return "flow_active"
    return ""


# --- the turn --------------------------------------------------------------------------------


def _run(run: TurnRun) -> bool:
    turn, conversation, assistant = run.turn, run.conversation, run.assistant
    run.messages = _input_messages(turn)
    if not run.messages:
        decision_skip(conversation=conversation, turn=turn, assistant=assistant, reason="no_input",
                      latency_ms=_ms(run.started))
        return False
    run.input_text = "\n".join(describe(m) for m in run.messages)
    run.query = " ".join(" ".join((m.text or "").split()) for m in run.messages if (m.text or "").strip())
    run.query = prompts.strip_invisible(run.query)[-QUERY_MAX_CHARS:].strip()
    run.decision = decision_create(
        conversation=conversation, turn=turn, assistant=assistant, action=DecisionAction.ERROR,
        reason="in_progress", mode=run.mode, input_message_ids=[m.pk for m in run.messages],
        input_text=run.input_text, model=(run.provider.model if run.mode == "generative" else ""))

    if _quota_exhausted(run):
        return True

    run.first_turn = not _has_outbound_reply(conversation, before=run.messages[0])
    small_talk = bool(run.query) and prompts.is_small_talk(run.query) or (not run.query and _only_reactions(run))
    if not small_talk:  # "oi", "obrigado", a sticker: nothing to look up
        _retrieve(run)
    if run.mode == "retrieval":
        return _retrieval_only(run, small_talk)
    return _generative(run, small_talk)


def _input_messages(turn) -> list[Message]:
    ids = list((turn.detail or {}).get("message_ids") or [])
    queryset = Message.objects.filter(pk__in=ids) if ids else turn.messages.all()
    return list(queryset.order_by("created_at", "id"))


def describe(message: Message) -> str:
    """The text of a customer message for the model and the log; non-text ones described."""
    text = prompts.strip_invisible(message.text or "").strip()
    kind = message.type
    if kind in (MessageType.TEXT, MessageType.INTERACTIVE, MessageType.TEMPLATE) or not kind:
        return text
    if kind == MessageType.DOCUMENT:
        label = f"[document: {message.media_name}]" if message.media_name else "[document]"
    elif kind == MessageType.LOCATION:
        payload = message.payload or {}
        where = ", ".join(str(payload[k]) for k in ("latitude", "longitude") if payload.get(k) is not None)
        label = f"[location{': ' + where if where else ''}]"
    elif kind == MessageType.REACTION:
        return f"[reaction: {text}]" if text else "[reaction]"
    else:
        label = f"[{kind}]"
    return f"{label} {text}".strip()


def _only_reactions(run: TurnRun) -> bool:
    return all(m.type in (MessageType.REACTION, MessageType.STICKER) for m in run.messages)


def _has_outbound_reply(conversation: Conversation, *, before: Message) -> bool:
    """An AI, flow or human message was already sent in this conversation (not a system line)."""
    return Message.objects.filter(
        conversation=conversation, direction=Direction.OUT,
        sender_kind__in=[SenderKind.AI, SenderKind.HUMAN, SenderKind.FLOW]).exclude(type=MessageType.EVENT).filter(
        Q(created_at__lt=before.created_at) | Q(created_at=before.created_at, pk__lt=before.pk)).exists()


def memory(run: TurnRun) -> list[dict]:
    """The last ``memory_size`` messages before the turn as chat messages: the customer's as
    ``user``, the business's (AI, flow, staff) as ``assistant``; system lines, purged content and
    messages that never reached the customer are left out."""
    size = run.assistant.memory_size or 0
    if size <= 0:
        return []
    first = run.messages[0]
    rows = list(
        Message.objects.filter(conversation=run.conversation, purged_at__isnull=True)
        .filter(Q(created_at__lt=first.created_at) | Q(created_at=first.created_at, pk__lt=first.pk))
        .exclude(pk__in=[m.pk for m in run.messages])
        .exclude(sender_kind=SenderKind.SYSTEM).exclude(type=MessageType.EVENT)
        .exclude(direction=Direction.OUT, status=MessageStatus.FAILED)
        .order_by("-created_at", "-id")[:size])
    out = []
    for message in reversed(rows):
        text = describe(message)
        if not text:
            continue
        role = "user" if message.direction == Direction.IN else "assistant"
        out.append({"role": role, "content": text})
    return out


def _retrieve(run: TurnRun) -> None:
    if not run.query:
        return
    from apps.knowledge.selectors import search

    document_ids = list(run.assistant.documents.values_list("pk", flat=True)) or None
    try:
        result = search(run.query, document_ids=document_ids, limit=RETRIEVAL_LIMIT)
    except Exception as exc:  # noqa: BLE001 - no knowledge is a hand-off, not a broken turn
        log.warning("retrieval failed in conversation %s: %s", run.conversation.pk, exc, exc_info=True)
        run.error = f"retrieval: {exc.__class__.__name__}: {exc}"
        return
    run.chunks = [c.as_dict() for c in result.chunks]
    run.confidence = float(result.confidence or 0.0)
    run.searched = True


def _confident(run: TurnRun) -> bool:
    return bool(run.chunks) and run.confidence >= float(run.assistant.confidence_threshold)


# --- retrieval-only ------------------------------------------------------------------------------


def _small_talk_reply(run: TurnRun) -> str:
    kind = prompts.small_talk_kind(run.query)
    if run.first_turn or kind == "greeting":
        return message_for(run.assistant, "greeting_message")
    if kind == "thanks":
        return _("You're welcome! Anything else I can help you with?")
    return _("Anything else I can help you with?")


def _retrieval_only(run: TurnRun, small_talk: bool) -> bool:
    assistant = run.assistant
    greeting = [message_for(assistant, "greeting_message")] if run.first_turn else []
    if small_talk:
        return _conclude(run, action=DecisionAction.ANSWERED, reason="small_talk", replies=[_small_talk_reply(run)])
    if _confident(run):
        passage = prompts.best_passage(run.chunks[0]["text"], run.query, max_chars=settings.AI_REPLY_MAX_CHARS)
        if passage:
            return _conclude(run, action=DecisionAction.ANSWERED, reason="", replies=[*greeting, passage])
    reason = _low_reason(run)
    action = DecisionAction.ERROR if reason == "retrieval_error" else DecisionAction.HANDED_OFF
    return _conclude(run, action=action, reason=reason, handoff=True,
                     replies=[*greeting, message_for(assistant, "fallback_message")])


def _low_reason(run: TurnRun) -> str:
    if run.error.startswith("retrieval"):
        return "retrieval_error"
    if not run.query:
        return "no_text"
    return "low_confidence"


# --- generative ----------------------------------------------------------------------------------


def enabled_tools(assistant: Assistant) -> list[Tool]:
    """The assistant's enabled tools that exist in the registry, in its order, once each."""
    seen, out = set(), []
    for name in assistant.enabled_tools or []:
        tool = get_tool(str(name))
        if tool is not None and tool.name not in seen:
            seen.add(tool.name)
            out.append(tool)
    return out


def needs_knowledge(*, small_talk: bool, tools: list[Tool]) -> bool:
    """Does answering need the knowledge base? Not for small talk (greetings, thanks, "ok"), and not
    when the assistant has action tools (anything besides handoff_to_human): the request may be one
    a tool serves (saving the customer's details, the opening hours, an order), and the model, held
    by the rules, hands off itself when neither context nor tools help. Otherwise yes: below the
    threshold such a turn hands off without calling the model (no cost, no guess)."""
    if small_talk:
        return False
    return not any(t.name != "handoff_to_human" for t in tools)


def _generative(run: TurnRun, small_talk: bool) -> bool:
    assistant = run.assistant
    tools = enabled_tools(assistant)
    if not _confident(run) and needs_knowledge(small_talk=small_talk, tools=tools):
        reason = _low_reason(run)
        action = DecisionAction.ERROR if reason == "retrieval_error" else DecisionAction.HANDED_OFF
        return _conclude(run, action=action, reason=reason, handoff=True,
                         replies=[message_for(assistant, "fallback_message")])

    business = getattr(run.tenant, "name", "") or "the business"
    canary = prompts.canary_for(assistant)
    system = prompts.system_prompt(assistant, business_name=business, tool_names=[t.name for t in tools],
                                   canary=canary)
    if run.first_turn:
        system += ("\nThis is the customer's first message: start with one short greeting, in the spirit of: "
                   + json.dumps(message_for(assistant, "greeting_message"), ensure_ascii=False))
    messages = [{"role": "system", "content": system}, *memory(run), prompts.context_message(run.chunks)]
    messages += [{"role": "user", "content": describe(m) or "[empty]"} for m in run.messages]
    _typing(run)
    try:
        client = cached_client(run.provider)
    except LLMError as exc:  # e.g. an endpoint on a private network
        return _model_failed(run, exc)
    specs = [t.spec() for t in tools] or None
    allowed = {t.name: t for t in tools}
    context = ToolContext(conversation=run.conversation, assistant=assistant, turn=run.turn, decision=run.decision)
    max_steps = int(settings.AI_MAX_TOOL_STEPS)
    used_tool = False
    final = ""
    for step in range(max_steps + 1):
        try:
            result = _chat(run, client, messages, specs)
        except LLMError as exc:
            return _model_failed(run, exc)
        if not result.tool_calls:
            final = result.content or ""
            break
        if step == max_steps:  # a fifth round of tools: the model is going in circles
            run.tool_calls += [{"name": c.name, "arguments": c.arguments[:2000], "ok": False,
                                "error": "not run: tool step limit reached"} for c in result.tool_calls]
            return _conclude(run, action=DecisionAction.HANDED_OFF, reason="tool_step_limit", handoff=True,
                             replies=[message_for(assistant, "fallback_message")])
        messages.append(result.as_message())
        for call in result.tool_calls:
            record = run_tool_call(call, allowed, context)
            run.tool_calls.append(record)
            used_tool = used_tool or record["ok"]
            content = record["result"] if record["ok"] else {"error": record["error"]}
            messages.append({"role": "tool", "tool_call_id": call.id,
                             "content": json.dumps(content, ensure_ascii=False, default=str)})
        run.card = getattr(context, "order_card", None)
        if context.handed_off:
            said = _safe_text(run, result.content, system=system, canary=canary)
            why = getattr(context, "handoff_reason", "") or "requested"
            return _conclude(run, action=DecisionAction.HANDED_OFF, reason=f"tool:{why}"[:200], handoff=True,
                             handoff_text=why, replies=[said or message_for(assistant, "wait_message")])

    text = prompts.strip_invisible(final).strip()
    if prompts.HANDOFF_TOKEN in text:
        return _conclude(run, action=DecisionAction.HANDED_OFF, reason="model_handoff", handoff=True,
                         replies=[message_for(assistant, "fallback_message")])
    if not text:
        return _conclude(run, action=DecisionAction.HANDED_OFF, reason="empty_reply", handoff=True,
                         replies=[message_for(assistant, "fallback_message")])
    if prompts.leaks_prompt(text, system=system, canary=canary):
        log.warning("conversation %s: a reply quoting the instructions was blocked", run.conversation.pk)
        run.error = "reply blocked: it quoted the assistant's instructions"
        return _conclude(run, action=DecisionAction.HANDED_OFF, reason="reply_blocked", handoff=True,
                         replies=[message_for(assistant, "fallback_message")])
    action = DecisionAction.TOOL if used_tool else DecisionAction.ANSWERED
    return _conclude(run, action=action, reason="", replies=[text])


def _safe_text(run: TurnRun, content: str, *, system: str, canary: str) -> str:
    text = prompts.strip_invisible(content or "").strip()
    if not text or prompts.HANDOFF_TOKEN in text or prompts.leaks_prompt(text, system=system, canary=canary):
        return ""
    return text


def _chat(run: TurnRun, client, messages: list[dict], specs):
    """One model call with one retry (after AI_RETRY_BACKOFF_SECONDS) on a timeout, 5xx, 429 or a
    lost connection. Tokens are counted for every answered call."""
    try:
        result = client.chat(messages, tools=specs)
    except LLMError as exc:
        if not exc.retryable:
            raise
        log.info("model call failed (%s); retrying once", exc.code)
        time.sleep(float(settings.AI_RETRY_BACKOFF_SECONDS))
        result = client.chat(messages, tools=specs)
    run.prompt_tokens += result.prompt_tokens
    run.completion_tokens += result.completion_tokens
    run.model = result.model or run.model
    _provider_ok(run)
    return result


_clients: dict[tuple, object] = {}
_CLIENTS_MAX = 32


def cached_client(provider: ModelProvider):
    """The provider's LLMClient, reused across turns of this process while its settings are the
    same: building one costs tens of milliseconds (the SDK's HTTP client loads the CA bundle), and a
    reused one keeps its connection to the endpoint alive. The key holds a hash of the API key, so
    a changed key (or URL, model, limits) gets a new client."""
    import hashlib

    key = (db_connection.schema_name, provider.pk, provider.base_url, provider.model,
           hashlib.sha256((provider.api_key or "").encode()).hexdigest(), float(provider.temperature),
           provider.max_tokens, provider.timeout_seconds, provider.embedding_model)
    client = _clients.get(key)
    if client is None:
        if len(_clients) >= _CLIENTS_MAX:
            _clients.pop(next(iter(_clients)), None)
        client = _clients[key] = client_for(provider)
    return client


_validators: dict[str, object] = {}


def _validator(tool: Tool):
    import jsonschema

    key = f"{tool.name}:{id(tool.parameters)}"
    if key not in _validators:
        cls = jsonschema.validators.validator_for(tool.parameters)
        _validators[key] = cls(tool.parameters)
    return _validators[key]


def run_tool_call(call: ToolCall, allowed: dict[str, Tool], context: ToolContext) -> dict:
    """Refuse a name outside the allowlist, refuse arguments that are not JSON or fail the tool's
    schema (the model reads why in the tool result), else run the tool in its own savepoint."""
    record: dict = {"name": call.name, "arguments": (call.arguments or "")[:2000], "ok": False}
    tool = allowed.get(call.name)
    if tool is None:
        record["error"] = f"unknown tool {call.name!r}: only {', '.join(sorted(allowed)) or 'none'} may be called"
        return record
    try:
        arguments = parse_arguments(call)
    except ValueError as exc:
        record["error"] = f"invalid arguments: {exc}"
        return record
    errors = sorted(_validator(tool).iter_errors(arguments), key=lambda e: (len(e.path), e.message))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path)
        record["error"] = f"invalid arguments{' at ' + where if where else ''}: {first.message}"[:500]
        return record
    record["arguments"] = arguments
    try:
        with transaction.atomic():
            result = tool.run(context, arguments)
    except Exception as exc:  # noqa: BLE001 - a failing tool is reported to the model, not a broken turn
        log.exception("tool %s failed", tool.name)
        record["error"] = f"the tool failed: {exc.__class__.__name__}"
        return record
    record["ok"] = True
    record["result"] = result if isinstance(result, dict) else {"value": result}
    return record


def _model_failed(run: TurnRun, exc: LLMError) -> bool:
    run.error = f"{exc.code}: {exc}"[:2000]
    if isinstance(exc, LLMAuthError):
        _auth_failed(run, exc)
    return _conclude(run, action=DecisionAction.ERROR, reason=f"model_{exc.code}", handoff=True,
                     replies=[message_for(run.assistant, "fallback_message")])


def _provider_ok(run: TurnRun) -> None:
    """A call succeeded: clear an error state left by an invalid key (the admin may be told again
    if the key breaks again)."""
    provider, assistant = run.provider, run.assistant
    if provider is not None and (provider.status != ModelProvider.Status.OK or provider.error_notified_at
                                 or provider.last_error):
        ModelProvider.objects.filter(pk=provider.pk).update(status=ModelProvider.Status.OK, last_error="",
                                                            error_notified_at=None, updated_at=timezone.now())
        provider.status, provider.last_error, provider.error_notified_at = ModelProvider.Status.OK, "", None
    if assistant.status != Assistant.Status.OK or assistant.last_error:
        Assistant.objects.filter(pk=assistant.pk).update(status=Assistant.Status.OK, last_error="")
        assistant.status, assistant.last_error = Assistant.Status.OK, ""


def _auth_failed(run: TurnRun, exc: LLMAuthError) -> None:
    """Invalid key: the assistant and its provider show the error; the admins are told once (until a
    call succeeds again). Never retried."""
    provider, assistant = run.provider, run.assistant
    message = str(exc)[:1000]
    Assistant.objects.filter(pk=assistant.pk).update(status=Assistant.Status.ERROR, last_error=message)
    assistant.status, assistant.last_error = Assistant.Status.ERROR, message
    if provider is None:
        return
    now = timezone.now()
    ModelProvider.objects.filter(pk=provider.pk).update(status=ModelProvider.Status.ERROR, last_error=message,
                                                        updated_at=now)
    # the first turn to flip error_notified_at tells the admins; concurrent turns see it set
    first = ModelProvider.objects.filter(pk=provider.pk, error_notified_at__isnull=True).update(error_notified_at=now)
    if not first:
        return
    from apps.accounts.roles import Role
    from apps.notifications.services import notification_send

    notification_send(role=Role.ADMIN, kind="ai_provider_error",
                      title=_("The AI model refused the API key"),
                      body=_("%(provider)s answered: “%(error)s”. The assistants hand every conversation to "
                             "the team until the key is fixed.") % {"provider": provider.name,
                                                                     "error": message[:300]},
                      link=_link("agents:index"))


# --- quota ------------------------------------------------------------------------------------


def _quota_exhausted(run: TurnRun) -> bool:
    """The plan's AI turns for the month are used up: the customer gets the fallback message and a
    person; the admins hear about it once per month. (Not metered as a turn.)"""
    from apps.billing.selectors import plan_limit, within_limit

    tenant = run.tenant
    if tenant is None or plan_limit(tenant, "ai_turns_per_month") is None:
        return False
    if within_limit(tenant, "ai_turns_per_month", used=usage.month_turns(run.day)):
        return False
    _conclude(run, action=DecisionAction.HANDED_OFF, reason="quota_exhausted", handoff=True, metered=False,
              replies=[message_for(run.assistant, "fallback_message")])
    month = run.day.strftime("%Y-%m")
    from tenants.models import Tenant

    told = Tenant.objects.filter(pk=tenant.pk).exclude(ai_quota_notified_month=month).update(
        ai_quota_notified_month=month)
    if told:
        from apps.accounts.roles import Role
        from apps.notifications.services import notification_send

        cap = plan_limit(tenant, "ai_turns_per_month")
        notification_send(role=Role.ADMIN, kind="ai_quota",
                          title=_("AI turns of the month used up"),
                          body=_("Your plan includes %(cap)d AI turns a month and all of them were used. Until "
                                 "the month ends or the plan changes, conversations go straight to your team.")
                          % {"cap": cap}, link=_link("agents:index"))
    return True


# --- sending, hand-off, the decision ------------------------------------------------------------


def _link(name: str, *args) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def _typing(run: TurnRun) -> None:
    """Typing… on the customer's phone while the answer is prepared: best effort, in a thread (some
    providers hold the request for the presence's duration), never failing the turn."""
    if run.presence_sent or not run.assistant.typing_presence:
        return
    run.presence_sent = True
    connection = run.conversation.connection
    if not connection.is_active:
        return
    try:
        from apps.crm.selectors import contact_recipient
        from apps.whatsapp.window import provider_of

        provider = provider_of(connection)
        if type(provider).send_presence is _base_send_presence():
            return  # the provider has no presence (sandbox): no thread for nothing
        to = contact_recipient(run.conversation.contact, connection.provider)
    except Exception:  # noqa: BLE001
        log.debug("typing presence skipped", exc_info=True)
        return
    if not to:
        return
    delay_ms = int(min(max(float(run.assistant.reply_delay_seconds or 0), 1.2), 10) * 1000)

    def send():
        try:
            provider.send_presence(connection, to, "composing", delay_ms)
        except Exception:  # noqa: BLE001
            log.info("typing presence failed", exc_info=True)

    threading.Thread(target=send, daemon=True, name="typing-presence").start()


def _base_send_presence():
    from apps.whatsapp.providers.base import WhatsAppProvider

    return WhatsAppProvider.send_presence


def _human_delay(run: TurnRun) -> None:
    """The assistant's human-like delay, counted from the start of the turn (the model's time
    counts towards it)."""
    delay = float(run.assistant.reply_delay_seconds or 0)
    if delay <= 0:
        return
    remaining = delay - (time.monotonic() - run.started)
    if remaining > 0:
        time.sleep(min(remaining, 30))


# Shown in the chat's hand-off line and the team's notification (translated when used).
_HANDOFF_LABELS = {
    "low_confidence": gettext_noop("The assistant found no reliable answer in the knowledge base."),
    "no_text": gettext_noop("The customer sent something the assistant cannot read."),
    "retrieval_error": gettext_noop("The knowledge base could not be searched."),
    "quota_exhausted": gettext_noop("The plan's AI turns for the month are used up."),
    "tool_step_limit": gettext_noop("The assistant could not finish the request."),
    "model_handoff": gettext_noop("The assistant had no answer."),
    "empty_reply": gettext_noop("The assistant had no answer."),
    "reply_blocked": gettext_noop("The assistant's answer was blocked."),
    "internal_error": gettext_noop("The assistant failed."),
    "send_failed": gettext_noop("The assistant's answer could not be sent."),
}


def _handoff_text(reason: str) -> str:
    if reason.startswith("model_"):
        return _("The AI model is unavailable.")
    label = _HANDOFF_LABELS.get(reason)
    return _(label) if label else reason


def _conclude(run: TurnRun, *, action: str, reason: str, replies: list[str], handoff: bool = False,
              handoff_text: str = "", metered: bool = True) -> bool:
    """Send ``replies`` (split to WhatsApp size, each carrying the decision id), hand off when asked,
    complete the decision and meter the turn, all in one transaction under the conversation's lock.
    If a human took over meanwhile, nothing is sent: the decision says so (tokens still metered)."""
    assistant = run.assistant
    if run.decision is None:  # failed before the decision existed
        run.decision = decision_create(conversation=run.conversation, turn=run.turn, assistant=assistant,
                                       action=DecisionAction.ERROR, reason="in_progress", mode=run.mode)
    if any(r.strip() for r in replies):
        _typing(run)
        _human_delay(run)
    cost = usage.cost_of(run.provider, run.prompt_tokens, run.completion_tokens) if run.mode == "generative" \
        else Decimal("0")
    conversation = run.conversation
    sent: list[Message] = []
    errors: list[str] = [run.error] if run.error else []
    with transaction.atomic():
        state = Conversation.objects.select_for_update().filter(pk=conversation.pk).values_list(
            "bot_state", flat=True).first()
        if state != BotState.AI_ACTIVE:
            decision_update(run.decision, action=DecisionAction.SKIPPED, reason=f"bot_{state}_during_turn",
                            **_decision_fields(run, cost=cost, sent=[], error="\n".join(errors)))
            usage.usage_record(prompt_tokens=run.prompt_tokens, completion_tokens=run.completion_tokens, cost=cost,
                               day=run.day)
            return True
        payload = {"decision_id": run.decision.pk}
        pieces = [piece for text in replies
                  for piece in prompts.split_reply(prompts.strip_invisible(text), int(settings.AI_REPLY_MAX_CHARS))]
        for i, piece in enumerate(pieces):
            # an ordering tool's cart card rides on the last piece only: staff see it once, under the reply
            card = run.card if run.card and i == len(pieces) - 1 else {}
            message = _send(conversation, piece, {**payload, **card}, errors)
            if message is not None:
                sent.append(message)
        if not handoff and replies and not sent:
            handoff, action, reason = True, DecisionAction.ERROR, "send_failed"
        if handoff:
            if not is_open(assistant):
                message = _send(conversation, message_for(assistant, "outside_hours_message"), payload, errors)
                if message is not None:
                    sent.append(message)
            _handoff(run, handoff_text or _handoff_text(reason))
        decision_update(run.decision, action=action, reason=reason,
                        **_decision_fields(run, cost=cost, sent=sent, error="\n".join(errors)))
        if metered:
            usage.usage_record(turns=1, prompt_tokens=run.prompt_tokens, completion_tokens=run.completion_tokens,
                               cost=cost, handoffs=1 if handoff else 0, day=run.day)
        else:
            usage.usage_record(handoffs=1 if handoff else 0, day=run.day)
    return True


def _decision_fields(run: TurnRun, *, cost, sent: list[Message], error: str) -> dict:
    return {"mode": run.mode, "chunks": run.chunks, "confidence": run.confidence if run.searched else None,
            "tool_calls": run.tool_calls, "reply_message_ids": [m.pk for m in sent],
            "reply_text": "\n\n".join(m.text for m in sent), "model": run.model or (
                run.provider.model if run.mode == "generative" and run.provider else ""),
            "prompt_tokens": run.prompt_tokens, "completion_tokens": run.completion_tokens, "cost": cost,
            "latency_ms": _ms(run.started), "error": error}


def _send(conversation: Conversation, text: str, payload: dict, errors: list[str]) -> Message | None:
    from apps.inbox.services.messages import message_send

    text = (text or "").strip()
    if not text:
        return None
    try:
        # message_send validates before it writes (and writes in its own savepoint): a refusal
        # leaves the turn's transaction clean
        return message_send(conversation, sender_kind=SenderKind.AI, text=text, payload=dict(payload))
    except ValidationError as exc:  # the Cloud API window closed, the number disabled...
        errors.append("send: " + "; ".join(exc.messages))
        return None


def _handoff(run: TurnRun, text: str) -> None:
    """waiting_human, the hand-off team, an in-app notice to the team (email to those who opted in)."""
    from apps.inbox.services.bot import bot_handoff

    conversation, assistant = run.conversation, run.assistant
    bot_handoff(conversation, reason=text[:200], team=assistant.handoff_team)
    _notify_handoff(conversation, assistant, text)


def handoff_recipients(conversation, assistant) -> tuple[object | None, list]:
    """The hand-off team (the assistant's, else the conversation's); without one, everyone who may
    reply in the inbox."""
    from apps.accounts.models import User
    from apps.accounts.roles import CAPABILITIES, Role

    team = assistant.handoff_team or conversation.team
    if team is not None:
        return team, []
    roles = {Role.ADMIN, *CAPABILITIES.get("conversations.reply", set())}
    return None, list(User.objects.filter(is_active=True, role__in=roles).order_by("pk"))


def _notify_handoff(conversation, assistant, reason_text: str) -> None:
    from apps.notifications.emails import send_notification_emails
    from apps.notifications.services import notification_send

    team, users = handoff_recipients(conversation, assistant)
    contact = conversation.contact.display_name
    kwargs = {"kind": "handoff", "title": _("%(contact)s is waiting for a person") % {"contact": contact},
              "body": reason_text, "link": _link("inbox:conversation-detail", conversation.pk)}
    notes = notification_send(team=team, **kwargs) if team is not None else notification_send(recipients=users, **kwargs)
    opted = [n.pk for n in notes if getattr(n.recipient, "notify_by_email", False) and n.recipient.email]
    if opted:
        schema = db_connection.schema_name
        transaction.on_commit(lambda: send_notification_emails(opted, schema_name=schema))
