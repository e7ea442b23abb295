from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.accounts.models import Team
from apps.core.crypto import mask
from apps.knowledge.models import Document

from ..models import Assistant, Decision, ModelProvider, UsageDaily


class ProviderBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    model = serializers.CharField()
    has_key = serializers.BooleanField()
    key_masked = serializers.SerializerMethodField()

    def get_key_masked(self, obj) -> str:
        return mask(obj.api_key or "")


class AssistantSerializer(serializers.ModelSerializer):
    """``mode``: "generative" when a provider with a key answers, else "retrieval". Writing
    ``is_default: true`` makes it the default (false is ignored: there is always one default)."""

    enabled_tools = serializers.ListField(child=serializers.CharField(max_length=80), required=False)
    documents = serializers.PrimaryKeyRelatedField(many=True, queryset=Document.objects.all(), required=False)
    handoff_team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), allow_null=True, required=False)
    provider = serializers.PrimaryKeyRelatedField(queryset=ModelProvider.objects.all(), allow_null=True,
                                                  required=False)
    business_hours = serializers.JSONField(required=False)
    # declared: the model's "one default" constraint is kept by the service, not a uniqueness check
    is_default = serializers.BooleanField(required=False)
    mode = serializers.SerializerMethodField()
    provider_info = serializers.SerializerMethodField()

    class Meta:
        model = Assistant
        fields = ["id", "name", "description", "purpose", "master_prompt", "tone", "greeting_message",
                  "fallback_message", "wait_message", "return_message", "outside_hours_message", "business_hours",
                  "time_zone", "confidence_threshold", "memory_size", "handoff_team", "enabled_tools", "documents",
                  "provider", "typing_presence", "reply_delay_seconds", "is_active", "is_default", "status",
                  "last_error", "mode", "provider_info", "created_at", "updated_at"]
        read_only_fields = ["status", "last_error", "created_at", "updated_at"]

    def _provider(self, obj):
        from ..selectors import provider_for

        return provider_for(obj)

    def get_mode(self, obj) -> str:
        provider = self._provider(obj)
        return "generative" if provider is not None and provider.has_key else "retrieval"

    @extend_schema_field(ProviderBriefSerializer(allow_null=True))
    def get_provider_info(self, obj):
        provider = self._provider(obj)
        return None if provider is None else ProviderBriefSerializer(provider).data


class ProviderSerializer(serializers.ModelSerializer):
    """``api_key`` is write-only: blank or omitted keeps the stored key; ``remove_key`` clears it."""

    api_key = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=500,
                                    style={"input_type": "password"})
    remove_key = serializers.BooleanField(write_only=True, required=False, default=False)
    # not URLField: internal hosts without a dot (an "ollama" container) are valid endpoints
    base_url = serializers.CharField(max_length=300, required=False)
    is_default = serializers.BooleanField(required=False)
    has_key = serializers.BooleanField(read_only=True)
    key_masked = serializers.SerializerMethodField()

    class Meta:
        model = ModelProvider
        fields = ["id", "name", "base_url", "model", "api_key", "remove_key", "has_key", "key_masked",
                  "embedding_model", "temperature", "max_tokens", "timeout_seconds", "price_in_per_1k",
                  "price_out_per_1k", "is_default", "status", "last_error", "created_at", "updated_at"]
        read_only_fields = ["status", "last_error", "created_at", "updated_at"]

    def get_key_masked(self, obj) -> str:
        return mask(obj.api_key or "")

    def validate_base_url(self, value: str) -> str:
        value = (value or "").strip()
        if not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError(_("The base URL must start with http:// or https://."))
        return value.rstrip("/")


class ProviderTestSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()
    answer = serializers.CharField()
    model = serializers.CharField()
    latency_ms = serializers.IntegerField()


class DecisionContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")
    phone = serializers.CharField()


class DecisionSerializer(serializers.ModelSerializer):
    contact = DecisionContactSerializer(source="conversation.contact", read_only=True)
    assistant_name = serializers.SerializerMethodField()
    threshold = serializers.SerializerMethodField()

    class Meta:
        model = Decision
        fields = ["id", "conversation", "contact", "assistant", "assistant_name", "mode", "action", "reason",
                  "input_message_ids", "input_text", "chunks", "confidence", "threshold", "tool_calls",
                  "reply_message_ids", "reply_text", "model", "prompt_tokens", "completion_tokens", "cost",
                  "latency_ms", "error", "created_at"]
        read_only_fields = fields

    def get_assistant_name(self, obj) -> str:
        return obj.assistant.name if obj.assistant_id and obj.assistant else ""

    def get_threshold(self, obj) -> float | None:
        return obj.assistant.confidence_threshold if obj.assistant_id and obj.assistant else None


class UsageDaySerializer(serializers.ModelSerializer):
    class Meta:
        model = UsageDaily
        fields = ["date", "turns", "prompt_tokens", "completion_tokens", "cost", "handoffs"]


class UsageMonthSerializer(serializers.Serializer):
    month = serializers.DateField()
    turns = serializers.IntegerField()
    limit = serializers.IntegerField(allow_null=True, help_text="The plan's AI turns per month; null = unlimited")
    remaining = serializers.IntegerField(allow_null=True)
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=14, decimal_places=6)
    handoffs = serializers.IntegerField()


class UsageSerializer(serializers.Serializer):
    month = UsageMonthSerializer()
    days = UsageDaySerializer(many=True)
