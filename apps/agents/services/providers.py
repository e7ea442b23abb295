"""Model providers (OpenAI-compatible endpoints): create, update, delete, and the "Test" call.

The API key is write-only everywhere: it is stored encrypted (``EncryptedTextField``), a blank
value on update keeps the stored one, ``remove_key`` clears it, and no message built here ever
contains it (a provider's error text is scrubbed before it is stored or shown).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from apps.core.crypto import mask

from ..llm import LLMAuthError, LLMConnectionError, LLMError, LLMRateLimited, LLMTimeout, client_for
from ..models import Assistant, ModelProvider

# The Test button must not hang the page for the provider's full answer timeout.
TEST_TIMEOUT_SECONDS = 15
TEST_PROMPT = [{"role": "user", "content": "Reply with the single word: OK"}]

EDITABLE = ("name", "base_url", "model", "embedding_model", "temperature", "max_tokens", "timeout_seconds",
            "price_in_per_1k", "price_out_per_1k")
# Changing any of these makes the last test result meaningless.
CONNECTION_FIELDS = ("base_url", "model")


def _validate(fields: dict) -> None:
    """Domain limits, for every entry point (page, API)."""
    errors: dict[str, list[str]] = {}
    if "name" in fields and not str(fields["name"] or "").strip():
        errors["name"] = [_("Give the provider a name.")]
    if "model" in fields and not str(fields["model"] or "").strip():
        errors["model"] = [_("Say which model to call, e.g. gpt-4o-mini.")]
    if "base_url" in fields and not str(fields["base_url"] or "").strip().lower().startswith(("http://", "https://")):
        errors["base_url"] = [_("The base URL must start with http:// or https://.")]
    elif "base_url" in fields:
        from ..llm import endpoint_refusal

        if endpoint_refusal(str(fields["base_url"]).strip()):
            errors["base_url"] = [_("This address is on a private or local network; use the provider's public "
                                    "address.")]
    temperature = fields.get("temperature")
    if temperature is not None and not Decimal("0") <= Decimal(str(temperature)) <= Decimal("2"):
        errors["temperature"] = [_("The temperature goes from 0 to 2.")]
    max_tokens = fields.get("max_tokens")
    if max_tokens is not None and not 1 <= int(max_tokens) <= 32000:
        errors["max_tokens"] = [_("Max tokens goes from 1 to 32000.")]
    timeout_seconds = fields.get("timeout_seconds")
    if timeout_seconds is not None and not 1 <= int(timeout_seconds) <= 300:
        errors["timeout_seconds"] = [_("The timeout goes from 1 to 300 seconds.")]
    for price in ("price_in_per_1k", "price_out_per_1k"):
        value = fields.get(price)
        if value is not None and Decimal(str(value)) < 0:
            errors[price] = [_("A price cannot be negative.")]
    if errors:
        raise ValidationError(errors)


def _clear_other_defaults(provider: ModelProvider) -> None:
    # the partial unique index allows one default: clear the others first, in the same transaction
    ModelProvider.objects.filter(is_default=True).exclude(pk=provider.pk).update(is_default=False)


def _clear_assistant_errors(provider: ModelProvider) -> None:
    """Assistants in the error state because of this provider's key get a fresh start (the turn
    sets the error again if the key is still refused)."""
    uses = Q(provider=provider)
    if provider.is_default:
        uses |= Q(provider__isnull=True)
    Assistant.objects.filter(uses, status=Assistant.Status.ERROR).update(
        status=Assistant.Status.OK, last_error="", updated_at=timezone.now())


@transaction.atomic
def provider_create(*, name: str, base_url: str = "https://api.openai.com/v1", model: str = "gpt-4o-mini",
                    api_key: str = "", embedding_model: str = "",
                    temperature: Decimal = Decimal("0.30"), max_tokens: int = 600, timeout_seconds: int = 30,
                    price_in_per_1k: Decimal = Decimal("0"), price_out_per_1k: Decimal = Decimal("0"),
                    is_default: bool = False) -> ModelProvider:
    """A new endpoint. The first provider of the tenant becomes its default: otherwise every
    assistant without its own provider would stay retrieval-only, which surprises people."""
    fields = {"name": name.strip(), "base_url": base_url.strip(), "model": model.strip(),
              "embedding_model": (embedding_model or "").strip(), "temperature": temperature,
              "max_tokens": max_tokens, "timeout_seconds": timeout_seconds, "price_in_per_1k": price_in_per_1k,
              "price_out_per_1k": price_out_per_1k}
    _validate(fields)
    if not ModelProvider.objects.filter(is_default=True).exists():
        is_default = True
    provider = ModelProvider(**fields, api_key=(api_key or "").strip(), is_default=is_default)
    if is_default:
        _clear_other_defaults(provider)
    provider.save()
    return provider


@transaction.atomic
def provider_update(*, provider: ModelProvider, api_key: str | None = None, remove_key: bool = False,
                    is_default: bool | None = None, **fields) -> ModelProvider:
    """Change a provider. ``api_key``: None or blank keeps the stored key, a value replaces it;
    ``remove_key`` clears it (the assistants fall back to retrieval-only)."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise TypeError(f"not editable: {', '.join(sorted(unknown))}")
    for key in ("name", "base_url", "model", "embedding_model"):
        if key in fields:
            fields[key] = (fields[key] or "").strip()
    _validate(fields)
    provider = ModelProvider.objects.select_for_update().get(pk=provider.pk)
    changed_connection = any(k in fields and fields[k] != getattr(provider, k) for k in CONNECTION_FIELDS)
    for key, value in fields.items():
        setattr(provider, key, value)
    new_key = (api_key or "").strip()
    key_changed = False
    if remove_key:
        key_changed = bool(provider.api_key)
        provider.api_key = ""
    elif new_key and new_key != provider.api_key:
        provider.api_key = new_key
        key_changed = True
    if key_changed or changed_connection:
        provider.status = ModelProvider.Status.UNTESTED
        provider.last_error = ""
        provider.error_notified_at = None
    if is_default is not None and is_default != provider.is_default:
        if is_default:
            _clear_other_defaults(provider)
        provider.is_default = is_default
    provider.updated_at = timezone.now()
    provider.save()
    if key_changed:
        _clear_assistant_errors(provider)
    return provider


@transaction.atomic
def provider_delete(*, provider: ModelProvider) -> None:
    """Assistants bound to it fall back to the tenant default (the FK is SET_NULL)."""
    provider.delete()


@transaction.atomic
def provider_make_default(*, provider: ModelProvider) -> ModelProvider:
    return provider_update(provider=provider, is_default=True)


@dataclass
class ProviderTestResult:
    ok: bool
    message: str  # translated, safe to show (never contains the key)
    answer: str = ""
    model: str = ""
    latency_ms: int = 0


def scrub(text: str, secret: str) -> str:
    """``text`` with every occurrence of ``secret`` (and of its longer tails) replaced by its mask:
    providers quote the key back in their error messages."""
    if not text or not secret:
        return text or ""
    shown = mask(secret)
    text = text.replace(secret, shown)
    # some providers echo a truncated key ("sk-abc...wxyz"): hide any 8+ character slice of it
    for size in range(min(len(secret), 40), 7, -1):
        for start in range(0, len(secret) - size + 1):
            piece = secret[start:start + size]
            if piece in text:
                text = text.replace(piece, shown)
    return text


def _error_message(exc: LLMError, key: str, timeout: float) -> str:
    detail = scrub(str(exc), key)
    if isinstance(exc, LLMAuthError):
        return _("The provider refused the API key: %(detail)s") % {"detail": detail}
    if isinstance(exc, LLMTimeout):
        return _("The model did not answer in time (%(seconds)s s).") % {"seconds": f"{timeout:g}"}
    if isinstance(exc, LLMConnectionError):
        return _("Could not reach the base URL. Check the address and that the server is running.")
    if isinstance(exc, LLMRateLimited):
        return _("The provider is limiting requests right now: %(detail)s") % {"detail": detail}
    return _("The provider answered with an error: %(detail)s") % {"detail": detail}


@sensitive_variables("key")
def provider_test(*, provider: ModelProvider) -> ProviderTestResult:
    """One real, tiny chat call. Records the outcome on the provider (status, last_error); a success
    also clears the "admin was told about the invalid key" mark and the assistants' error state."""
    key = provider.api_key or ""
    timeout = min(TEST_TIMEOUT_SECONDS, provider.timeout_seconds or TEST_TIMEOUT_SECONDS)
    try:
        result = client_for(provider, timeout=timeout).chat(TEST_PROMPT, max_tokens=16)
    except LLMError as exc:
        message = _error_message(exc, key, timeout)
        ModelProvider.objects.filter(pk=provider.pk).update(
            status=ModelProvider.Status.ERROR, last_error=message[:1000], updated_at=timezone.now())
        provider.status, provider.last_error = ModelProvider.Status.ERROR, message[:1000]
        return ProviderTestResult(ok=False, message=message)
    answer = scrub((result.content or "").strip(), key)[:200]
    with transaction.atomic():
        ModelProvider.objects.filter(pk=provider.pk).update(
            status=ModelProvider.Status.OK, last_error="", error_notified_at=None, updated_at=timezone.now())
        provider.status, provider.last_error, provider.error_notified_at = ModelProvider.Status.OK, "", None
        _clear_assistant_errors(provider)
    message = _("The model %(model)s answered in %(ms)s ms.") % {"model": result.model or provider.model,
                                                                 "ms": result.latency_ms}
    return ProviderTestResult(ok=True, message=message, answer=answer, model=result.model or provider.model,
                              latency_ms=result.latency_ms)
