"""JWT that belongs to one tenant: every token carries its schema and is refused elsewhere."""
from __future__ import annotations

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import update_last_login
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import Throttled
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
    def validate(self, attrs):
        request = self.context.get("request")
        # emails are stored lower-case (phones like to capitalise the first letter); passed as
        # ``username`` so django-axes counts failures per email + IP, like the login form does
        email = attrs[self.username_field].strip().lower()
        self.user = authenticate(request=request, username=email, password=attrs["password"])
        if getattr(request, "axes_locked_out", False):
            raise Throttled(detail=_("Too many failed attempts. For your security this login is locked for 15 "
                                     "minutes; try again later or reset your password."))
        if not api_settings.USER_AUTHENTICATION_RULE(self.user):
            raise AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account")
        refresh = self.get_token(self.user)
        if api_settings.UPDATE_LAST_LOGIN:
            update_last_login(None, self.user)
        return {"refresh": str(refresh), "access": str(refresh.access_token)}

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


try:  # document the tenant JWT in the OpenAPI schema (/api/schema/) as a bearer token
    from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme

    class TenantJWTScheme(SimpleJWTScheme):
        target_class = "apps.accounts.authentication.TenantJWTAuthentication"
        name = "tenantJWT"

        def get_security_definition(self, auto_schema):
            definition = super().get_security_definition(auto_schema)
            definition["description"] = str(_("Access token from /api/v1/auth/token/, valid on this company's "
                                               "domain only."))
            return definition
except ImportError:  # pragma: no cover - drf-spectacular is a hard dependency today
    pass
