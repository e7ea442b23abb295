from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from apps.accounts.models import Team
from apps.core.crypto import mask

from ..models import Connection, Provider
from ..urls_util import webhook_url

SECRET_KEYS = ("access_token", "app_secret", "token")


class ConnectionSerializer(serializers.ModelSerializer):
    """A WhatsApp number as the API shows it: credentials only masked, never in full."""

    has_qr = serializers.SerializerMethodField()
    webhook_url = serializers.SerializerMethodField()
    verify_token = serializers.SerializerMethodField()
    credentials = serializers.SerializerMethodField()
    waba_id = serializers.SerializerMethodField()

    class Meta:
        model = Connection
        fields = ["id", "name", "provider", "status", "last_error", "phone_number", "instance_name", "waba_id",
                  "default_team", "default_assistant", "is_active", "has_qr", "qr_updated_at", "webhook_url",
                  "verify_token", "credentials", "created_at", "last_seen_at"]
        read_only_fields = fields

    def get_has_qr(self, obj) -> bool:
        return bool(obj.qr_code)

    def get_webhook_url(self, obj) -> str:
        return webhook_url(obj)

    def get_verify_token(self, obj) -> str:
        """Cloud API: the token to paste in Meta's webhook settings (it only guards the handshake)."""
        return obj.get_credentials().get("verify_token", "") if obj.provider == Provider.CLOUD_API else ""

    def get_credentials(self, obj) -> dict[str, str]:
        creds = obj.get_credentials()
        return {key: mask(str(creds[key])) for key in SECRET_KEYS if creds.get(key)}

    def get_waba_id(self, obj) -> str:
        return obj.config.get("waba_id", "")


class _CloudFields(serializers.Serializer):
    phone_number_id = serializers.RegexField(r"^\d+$", max_length=120, required=False, allow_blank=True,
                                             error_messages={"invalid": _("The phone number ID is a number.")})
    waba_id = serializers.CharField(max_length=120, required=False, allow_blank=True)
    access_token = serializers.CharField(max_length=1000, required=False, allow_blank=True, write_only=True)
    app_secret = serializers.CharField(max_length=1000, required=False, allow_blank=True, write_only=True)
    verify_token = serializers.CharField(max_length=200, required=False, allow_blank=True, write_only=True)
    default_team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), required=False, allow_null=True)

    def _unique_name(self, value: str, exclude: int | None = None) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError(_("Give the connection a name."))
        qs = Connection.objects.filter(name__iexact=value)
        if exclude:
            qs = qs.exclude(pk=exclude)
        if qs.exists():
            raise serializers.ValidationError(_("There is already a connection with this name."))
        return value

    def _unique_phone_number_id(self, value: str, exclude: int | None = None) -> None:
        qs = Connection.objects.filter(provider=Provider.CLOUD_API, instance_name=value)
        if exclude:
            qs = qs.exclude(pk=exclude)
        if value and qs.exists():
            raise serializers.ValidationError({"phone_number_id": _("This phone number ID is already connected.")})


class ConnectionCreateSerializer(_CloudFields):
    name = serializers.CharField(max_length=80)
    provider = serializers.ChoiceField(choices=Provider.choices)

    def validate_name(self, value):
        return self._unique_name(value)

    def validate(self, data):
        if data["provider"] == Provider.CLOUD_API:
            missing = {f: _("Required for the WhatsApp Cloud API.") for f in ("phone_number_id", "access_token",
                                                                               "app_secret") if not data.get(f)}
            if missing:
                raise serializers.ValidationError(missing)
            self._unique_phone_number_id(data["phone_number_id"])
        return data


class ConnectionUpdateSerializer(_CloudFields):
    """Secrets left out or blank keep their stored value."""

    name = serializers.CharField(max_length=80, required=False)

    def validate_name(self, value):
        return self._unique_name(value, exclude=self.instance.pk)

    def validate(self, data):
        if data.get("phone_number_id"):
            self._unique_phone_number_id(data["phone_number_id"], exclude=self.instance.pk)
        return data


class ConnectionQrSerializer(serializers.Serializer):
    status = serializers.CharField()
    has_qr = serializers.BooleanField()
    qr_code = serializers.CharField(help_text="What the provider gave: an image data URI or the raw pairing code")
    image = serializers.CharField(help_text="A data URI image of the QR code (rendered when only the code is known)")
    updated_at = serializers.DateTimeField(allow_null=True)


class ConnectionTestSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    detail = serializers.CharField()
    connection = ConnectionSerializer()


class ProviderErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    connection = ConnectionSerializer()
