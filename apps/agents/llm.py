"""The one door to language models: any OpenAI-compatible endpoint through the ``openai`` SDK.

Everything above this module speaks in ``ChatResult`` / ``ToolCall`` and the ``LLMError`` family,
never in SDK types, so the turn pipeline does not care whether it talks to OpenAI, Groq, Gemini's
compatibility layer, Ollama or the fake server of the tests. The SDK's own retries are off: the
pipeline retries once, on purpose, and a 401 is never retried. API keys never reach a log line.
"""
from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass, field

import openai


class LLMError(Exception):
    """A model call failed. ``retryable``: a timeout, a 5xx or a 429 (worth one more try)."""

    retryable = False
    code = "error"

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class LLMTimeout(LLMError):
    retryable = True
    code = "timeout"


class LLMRateLimited(LLMError):
    retryable = True
    code = "rate_limited"


class LLMServerError(LLMError):
    retryable = True
    code = "server_error"


class LLMConnectionError(LLMError):
    retryable = True
    code = "connection_error"


class LLMAuthError(LLMError):
    """The key is missing, wrong or revoked: not retried; the assistant shows an error state."""

    code = "auth_error"


class LLMBadRequest(LLMError):
    code = "bad_request"


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # raw JSON text as the model wrote it (may be invalid)

    def as_message(self) -> dict:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


@dataclass
class ChatResult:
    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    finish_reason: str = ""
    latency_ms: int = 0

    def as_message(self) -> dict:
        """The assistant message to append to the history before tool results."""
        message: dict = {"role": "assistant", "content": self.content or None}
        if self.tool_calls:
            message["tool_calls"] = [call.as_message() for call in self.tool_calls]
        return message


def _message_of(exc: openai.APIStatusError) -> str:
    try:
        body = exc.response.json()
        error = body.get("error", body) if isinstance(body, dict) else body
        if isinstance(error, dict):
            return str(error.get("message") or error)[:500]
        return str(error)[:500]
    except Exception:  # noqa: BLE001 - a provider error page need not be JSON
        return (exc.response.text or str(exc))[:500]


def _translate(exc: Exception) -> LLMError:
    if isinstance(exc, openai.APITimeoutError):
        return LLMTimeout("the model did not answer in time")
    if isinstance(exc, openai.APIConnectionError):
        return LLMConnectionError("could not reach the model endpoint")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        message = _message_of(exc)
        if status in (401, 403):
            return LLMAuthError(message or "invalid API key", status=status)
        if status == 429:
            return LLMRateLimited(message or "rate limited", status=status)
        if status >= 500:
            return LLMServerError(message or "server error", status=status)
        return LLMBadRequest(message or "bad request", status=status)
    return LLMError(f"{exc.__class__.__name__}: {exc}")


@functools.lru_cache(maxsize=64)
def _sdk(base_url: str, api_key: str, timeout: float) -> openai.OpenAI:
    """The SDK client per endpoint, key and timeout, kept by the process: building one sets up TLS
    (~25 ms) and a kept one reuses its connections."""
    return openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)


class LLMClient:
    """One configured endpoint. Cheap to build (the SDK client underneath is shared)."""

    def __init__(self, *, base_url: str, api_key: str, model: str, timeout: float = 30,
                 temperature: float = 0.3, max_tokens: int = 600, embedding_model: str = ""):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout = float(timeout)
        self.temperature = float(temperature)
        self.max_tokens = int(max_tokens)
        self.embedding_model = embedding_model
        self._client = _sdk(self.base_url, api_key or "none", self.timeout)

    def __repr__(self):  # never the key
        return f"LLMClient({self.base_url!r}, model={self.model!r})"

    def chat(self, messages: list[dict], *, tools: list[dict] | None = None,
             max_tokens: int | None = None) -> ChatResult:
        """One chat completion. ``tools`` are OpenAI function specs
        (``{"type": "function", "function": {name, description, parameters}}``)."""
        kwargs: dict = {"model": self.model, "messages": messages, "temperature": self.temperature,
                        "max_tokens": max_tokens or self.max_tokens}
        if tools:
            kwargs["tools"] = tools
            kwargs["tool_choice"] = "auto"
        started = time.monotonic()
        try:
            response = self._client.chat.completions.create(**kwargs)
        except openai.OpenAIError as exc:
            raise _translate(exc) from None
        latency = int((time.monotonic() - started) * 1000)
        if not response.choices:
            raise LLMServerError("the model answered with no choices")
        choice = response.choices[0]
        calls = [ToolCall(id=c.id or f"call_{i}", name=c.function.name or "", arguments=c.function.arguments or "")
                 for i, c in enumerate(choice.message.tool_calls or []) if getattr(c, "function", None)]
        usage = response.usage
        return ChatResult(content=choice.message.content or "", tool_calls=calls,
                          prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                          completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
                          model=response.model or self.model, finish_reason=choice.finish_reason or "",
                          latency_ms=latency)

    def embed(self, texts: list[str], *, dimensions: int | None = None) -> list[list[float]]:
        """Embeddings of ``texts`` in order (``dimensions`` asked for when given; providers that do
        not support it answer at their own size)."""
        if not self.embedding_model:
            raise LLMBadRequest("no embedding model configured")
        kwargs: dict = {"model": self.embedding_model, "input": texts}
        if dimensions:
            kwargs["dimensions"] = dimensions
        try:
            response = self._client.embeddings.create(**kwargs)
        except openai.BadRequestError:
            if not dimensions:
                raise
            # some OpenAI-compatible servers reject ``dimensions``: ask again without it
            kwargs.pop("dimensions")
            try:
                response = self._client.embeddings.create(**kwargs)
            except openai.OpenAIError as exc:
                raise _translate(exc) from None
        except openai.OpenAIError as exc:
            raise _translate(exc) from None
        rows = sorted(response.data, key=lambda d: d.index)
        return [list(row.embedding) for row in rows]


class LLMEndpointRefused(LLMBadRequest):
    """The base URL points at a private or local network (refused unless
    settings.AI_ALLOW_PRIVATE_ENDPOINTS): a tenant must not reach our internal services."""

    code = "endpoint_refused"


def endpoint_refusal(base_url: str) -> str:
    """Why ``base_url`` may not be called ("" when it may)."""
    from django.conf import settings

    if settings.AI_ALLOW_PRIVATE_ENDPOINTS:
        return ""
    from apps.knowledge.fetch import UrlRefused, address_is_public, check_url

    try:
        check_url(base_url, address_allowed=address_is_public)
    except UrlRefused as exc:
        return str(exc)
    return ""


def client_for(provider, *, timeout: float | None = None) -> LLMClient:
    """The client of a ``ModelProvider`` row (LLMEndpointRefused for a private address)."""
    refusal = endpoint_refusal(provider.base_url)
    if refusal:
        raise LLMEndpointRefused(refusal)
    return LLMClient(base_url=provider.base_url, api_key=provider.api_key, model=provider.model,
                     timeout=timeout or provider.timeout_seconds, temperature=float(provider.temperature),
                     max_tokens=provider.max_tokens, embedding_model=provider.embedding_model)


def parse_arguments(call: ToolCall) -> dict:
    """The tool call's arguments as a dict; ValueError with a readable reason when they are not."""
    text = (call.arguments or "").strip() or "{}"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"arguments are not valid JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise ValueError("arguments must be a JSON object")
    return value
