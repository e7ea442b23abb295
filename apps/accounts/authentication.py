"""JWT that belongs to one tenant: every token carries its schema and is refused elsewhere."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

SCHEMA_CLAIM = "schema"


def _check_schema(token, schema_name: str) -> None:
    if token.get(SCHEMA_CLAIM) != schema_name:
        raise AuthenticationFailed(_("This token belongs to another company."), code="wrong_tenant")


class TenantJWTAuthentication(JWTAuthentication):
    def get_validated_token(self, raw_token):
        token = super().get_validated_token(raw_token)
        _check_schema(token, connection.schema_name)
        return token


def user_for_access_token(raw: str, *, schema_name: str):
    """The active user an access token names, if it is valid for ``schema_name``; else None."""
    try:
        token = AccessToken(raw)
    except TokenError:
        return None
    if token.get(SCHEMA_CLAIM) != schema_name:
        return None
    return get_user_model().objects.filter(pk=token.get("user_id"), is_active=True).first()


class TenantTokenObtainPairSerializer(TokenObtainPairSerializer):
    @classmethod
    def get_token(cls, user) -> RefreshToken:
        token = super().get_token(user)
        token[SCHEMA_CLAIM] = connection.schema_name
        return token


class TenantTokenRefreshSerializer(TokenRefreshSerializer):
    def validate(self, attrs):
        try:
            refresh = RefreshToken(attrs["refresh"], verify=True)
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from exc
        _check_schema(refresh, connection.schema_name)
        user_id = refresh.get(api_settings.USER_ID_CLAIM)
        if not get_user_model().objects.filter(**{api_settings.USER_ID_FIELD: user_id}, is_active=True).exists():
            # simplejwt would raise DoesNotExist (a 500) for a deleted user
            raise AuthenticationFailed(_("No active account found for the given token."), code="no_active_account")
        return super().validate(attrs)
