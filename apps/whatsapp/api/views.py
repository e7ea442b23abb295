"""Connections API (Admins: capability connections.manage). Credentials are write-only; reads
show them masked. A provider that refuses or cannot be reached answers 502 with its message and
the connection's state (the row is kept, in error)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.roles import user_can

from ..models import Connection, Provider
from ..qr import qr_image_uri
from ..selectors import connections_list
from ..services import connections as services
from .serializers import (ConnectionCreateSerializer, ConnectionQrSerializer, ConnectionSerializer,
                          ConnectionTestSerializer, ConnectionUpdateSerializer, ProviderErrorSerializer)

CLOUD_FIELDS = ("phone_number_id", "waba_id", "access_token", "app_secret", "verify_token")


class CanManageConnections(BasePermission):
    message = "Only admins may manage WhatsApp connections."

    def has_permission(self, request, view):
        return user_can(request.user, "connections.manage")


class _Base:
    permission_classes = [IsAuthenticated, CanManageConnections]

    def get_queryset(self):
        return connections_list()

    def _connection(self, pk) -> Connection:
        return generics.get_object_or_404(connections_list(), pk=pk)

    @staticmethod
    def _data(conn: Connection) -> dict:
        return ConnectionSerializer(conn).data

    def _provider_error(self, conn: Connection, exc: services.ConnectionActionError) -> Response:
        conn.refresh_from_db()
        code = status.HTTP_502_BAD_GATEWAY if exc.provider else status.HTTP_400_BAD_REQUEST
        return Response({"detail": exc.message, "code": exc.code, "connection": self._data(conn)}, status=code)


class ConnectionListCreateApi(_Base, generics.ListCreateAPIView):
    """List the tenant's WhatsApp numbers; add one (Evolution: the instance is created and its first
    QR kept, status awaiting_qr; Cloud API: the credentials are checked; a provider failure leaves
    the row in status error with ``last_error``)."""

    serializer_class = ConnectionSerializer

    @extend_schema(request=ConnectionCreateSerializer, responses={201: ConnectionSerializer})
    def post(self, request, *args, **kwargs):
        serializer = ConnectionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        credentials, config, instance = None, None, ""
        if data["provider"] == Provider.CLOUD_API:
            credentials = {k: data.get(k, "") for k in ("access_token", "app_secret", "verify_token")}
            config = {"waba_id": data["waba_id"]} if data.get("waba_id") else {}
            instance = data["phone_number_id"]
        conn = services.connection_add(name=data["name"], provider=data["provider"], credentials=credentials,
                                       config=config, instance_name=instance,
                                       default_team=data.get("default_team"), actor=request.user)
        return Response(self._data(conn), status=status.HTTP_201_CREATED)


class ConnectionDetailApi(_Base, generics.RetrieveUpdateDestroyAPIView):
    """One number: read, change its name / default team / Cloud API credentials, or delete it (the
    provider side is removed on a best-effort basis, then the row, its conversations and route)."""

    serializer_class = ConnectionSerializer

    @extend_schema(request=ConnectionUpdateSerializer, responses=ConnectionSerializer)
    def patch(self, request, *args, **kwargs):
        return self._update(request)

    @extend_schema(request=ConnectionUpdateSerializer, responses=ConnectionSerializer)
    def put(self, request, *args, **kwargs):
        return self._update(request)

    def _update(self, request):
        conn = self.get_object()
        serializer = ConnectionUpdateSerializer(conn, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        kwargs = {"name": data.get("name")}
        if "default_team" in data:
            kwargs["default_team"] = data["default_team"]
        if conn.provider == Provider.CLOUD_API:
            kwargs.update({k: data.get(k) for k in CLOUD_FIELDS})
        services.connection_update_settings(conn, actor=request.user, **kwargs)
        return Response(self._data(conn))

    def perform_destroy(self, instance):
        services.connection_delete(instance, actor=self.request.user)


class ConnectionQrApi(_Base, APIView):
    """The latest QR code while the number waits for a scan (empty once connected)."""

    @extend_schema(responses=ConnectionQrSerializer)
    def get(self, request, pk):
        conn = self._connection(pk)
        return Response({"status": conn.status, "has_qr": bool(conn.qr_code), "qr_code": conn.qr_code,
                         "image": qr_image_uri(conn.qr_code), "updated_at": conn.qr_updated_at})


class _ActionApi(_Base, APIView):
    action_name = ""

    def run(self, conn, user):
        raise NotImplementedError

    @extend_schema(request=None, responses={200: ConnectionSerializer, 502: ProviderErrorSerializer})
    def post(self, request, pk):
        conn = self._connection(pk)
        try:
            self.run(conn, request.user)
        except services.ConnectionActionError as exc:
            return self._provider_error(conn, exc)
        return Response(self._data(conn))


class ConnectionStatusApi(_ActionApi):
    """Ask the provider for the number's current state and store it."""

    def run(self, conn, user):
        services.connection_refresh(conn)

    @extend_schema(responses={200: ConnectionSerializer, 502: ProviderErrorSerializer})
    def get(self, request, pk):
        return self.post(request, pk)


class ConnectionReconnectApi(_ActionApi):
    """Start pairing again: Evolution returns a fresh QR (status awaiting_qr, see ``qr/``)."""

    def run(self, conn, user):
        services.connection_reconnect(conn, actor=user)


class ConnectionDisconnectApi(_ActionApi):
    """Log the number out on the provider (status disconnected)."""

    def run(self, conn, user):
        services.connection_disconnect(conn, actor=user)


class ConnectionTestApi(_Base, APIView):
    """Check the credentials with a real provider call; ``ok`` false carries the provider's message."""

    @extend_schema(request=None, responses=ConnectionTestSerializer)
    def post(self, request, pk):
        conn = self._connection(pk)
        try:
            detail, ok = services.connection_test(conn, actor=request.user), True
        except services.ConnectionActionError as exc:
            detail, ok = exc.message, False
            conn.refresh_from_db()
        return Response({"ok": ok, "detail": detail, "connection": self._data(conn)})
