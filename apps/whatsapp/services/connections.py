"""Connection lifecycle. Every write to a Connection that changes its webhook key or provider id
keeps the public ``tenants.WebhookRoute`` in step, so a webhook always finds its tenant.

Provider calls (HTTP) happen outside database transactions; their failures never lose the row:
the connection goes to ``error`` with a readable ``last_error`` and the caller gets a
``ConnectionActionError`` to show."""
from __future__ import annotations

import logging
import secrets

from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name, get_tenant_model, schema_context

from ..models import Connection, ConnectionStatus, Provider
from ..providers import get_provider
from ..providers.base import ConnectionUpdate, ProviderError, QrCode

log = logging.getLogger(__name__)


class ConnectionActionError(Exception):
    """A lifecycle action failed; ``message`` is what staff read (already translated).
    ``provider`` is True when the provider refused or could not be reached."""

    def __init__(self, code: str, message: str, *, provider: bool = False):
        super().__init__(message)
        self.code = code
        self.message = message
        self.provider = provider


def _sync_route(conn: Connection) -> None:
    from tenants.models import WebhookRoute

    schema = db_connection.schema_name
    with schema_context(get_public_schema_name()):
        tenant = get_tenant_model().objects.get(schema_name=schema)
        WebhookRoute.objects.update_or_create(
            tenant=tenant, connection_id=conn.pk,
            defaults={"key": conn.webhook_key, "provider": conn.provider,
                      "external_id": conn.instance_name or conn.external_id},
        )


def _drop_route(connection_id: int) -> None:
    from tenants.models import WebhookRoute

    schema = db_connection.schema_name
    with schema_context(get_public_schema_name()):
        WebhookRoute.objects.filter(tenant__schema_name=schema, connection_id=connection_id).delete()


@transaction.atomic
def connection_create(*, name: str, provider: str, credentials: dict | None = None, config: dict | None = None,
                      instance_name: str = "", default_team=None, status: str | None = None) -> Connection:
    """Create the row and its webhook route. Provider-side set-up (Evolution instance, QR) is a
    separate step so a provider outage never loses the row."""
    if provider not in Provider.values:
        raise ValueError(f"unknown provider {provider!r}")
    conn = Connection(name=name, provider=provider, config=config or {}, instance_name=instance_name,
                      default_team=default_team)
    if status:
        conn.status = status
    elif provider == Provider.SANDBOX:
        conn.status = ConnectionStatus.CONNECTED
    conn.set_credentials(credentials or {})
    conn.save()
    if provider == Provider.EVOLUTION and not conn.instance_name:
        conn.instance_name = f"{db_connection.schema_name}-{conn.pk}"
        conn.save(update_fields=["instance_name"])
    _sync_route(conn)
    return conn


def connection_sync_route(conn: Connection) -> None:
    _sync_route(conn)


@transaction.atomic
def connection_delete_row(conn: Connection) -> None:
    """Remove the row and its route (provider-side clean-up is the caller's first step)."""
    pk = conn.pk
    conn.delete()
    _drop_route(pk)


# --- helpers ------------------------------------------------------------------------------------

_SAVED_FIELDS = ["status", "last_error", "phone_number", "qr_code", "qr_updated_at", "last_seen_at",
                 "credentials", "config", "external_id"]


def _audit(action: str, conn: Connection, *, actor=None, details: dict | None = None) -> None:
    from apps.audit.services import audit_record

    audit_record(actor=actor, action=action, target=("whatsapp.connection", conn.pk, conn.name),
                 details={"provider": conn.provider, **(details or {})})


def _publish(conn: Connection) -> None:
    from apps.inbox.events import connection_updated

    connection_updated(conn)


def _save(conn: Connection, fields: list[str] | None = None) -> None:
    with transaction.atomic():
        conn.save(update_fields=fields or _SAVED_FIELDS)
        _publish(conn)


def _provider_message(exc: Exception) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return text[:1000]


def _fail(conn: Connection, exc: Exception, *, what: str) -> ConnectionActionError:
    """Record a provider failure on the row (status error, last_error) and build the error to raise."""
    detail = _provider_message(exc)
    conn.status = ConnectionStatus.ERROR
    conn.last_error = detail
    _save(conn, ["status", "last_error"])
    log.warning("whatsapp connection %s: %s failed: %s", conn.pk, what, detail)
    return ConnectionActionError("provider_error", _("The provider answered: %(detail)s") % {"detail": detail},
                                 provider=True)


def _apply_qr(conn: Connection, qr: QrCode | None) -> bool:
    """Keep a QR the provider returned; True when there was one."""
    image = (qr.data_uri or qr.code) if qr else ""
    if not image:
        return False
    conn.qr_code = image
    conn.qr_updated_at = timezone.now()
    conn.status = ConnectionStatus.AWAITING_QR
    conn.last_error = ""
    return True


def _require_provider(conn: Connection, *providers: str) -> None:
    if conn.provider not in providers:
        raise ConnectionActionError("not_supported", _("This action is not available for this kind of connection."))


# --- lifecycle ----------------------------------------------------------------------------------

def connection_add(*, name: str, provider: str, credentials: dict | None = None, config: dict | None = None,
                   instance_name: str = "", default_team=None, actor=None) -> Connection:
    """Create the row (and route), then set it up on the provider. A provider failure leaves the
    row in ``error`` with the reason; it does not raise (the caller shows ``last_error``)."""
    if provider == Provider.CLOUD_API:
        credentials = dict(credentials or {})
        if not credentials.get("verify_token"):
            credentials["verify_token"] = secrets.token_urlsafe(18)  # pasted into Meta's dashboard
    conn = connection_create(name=name, provider=provider, credentials=credentials, config=config,
                             instance_name=instance_name, default_team=default_team)
    _audit("connection.create", conn, actor=actor)
    if provider != Provider.SANDBOX:
        try:
            connection_setup(conn)
        except ConnectionActionError:
            pass  # recorded on the row
    return conn


def connection_setup(conn: Connection) -> Connection:
    """Create the number on the provider side with our webhook URL. Evolution returns the first QR
    (and the instance token, which the provider keeps in ``credentials``): status awaiting_qr.
    Cloud API: the credentials are checked (connected, or error with the provider's message)."""
    from ..urls_util import webhook_url

    provider = get_provider(conn.provider)
    try:
        qr = provider.create(conn, webhook_url=webhook_url(conn))
    except ProviderError as exc:
        raise _fail(conn, exc, what="create") from exc
    if _apply_qr(conn, qr):
        _save(conn)
        return conn
    if conn.provider == Provider.SANDBOX:
        conn.status = ConnectionStatus.CONNECTED
        conn.last_error = ""
        _save(conn)
        return conn
    try:
        update = provider.state(conn)
    except ProviderError as exc:
        raise _fail(conn, exc, what="state") from exc
    except NotImplementedError:
        _save(conn)
        return conn
    return connection_apply_update(conn, update)


def connection_reconnect(conn: Connection, *, actor=None) -> Connection:
    """Start pairing again: a fresh QR for QR providers (Evolution); others re-check their state."""
    provider = get_provider(conn.provider)
    if conn.provider == Provider.SANDBOX:
        conn.status = ConnectionStatus.CONNECTED
        conn.last_error = ""
        _save(conn)
        return conn
    _audit("connection.reconnect", conn, actor=actor)
    if conn.provider == Provider.EVOLUTION and not conn.get_credentials().get("token"):
        return connection_setup(conn)  # the instance was never created (provider down when added)
    try:
        qr = provider.connect(conn)
    except ProviderError as exc:
        raise _fail(conn, exc, what="connect") from exc
    if _apply_qr(conn, qr):
        _save(conn)
        return conn
    return connection_refresh(conn)


def connection_refresh(conn: Connection) -> Connection:
    """Ask the provider for the current state and apply it."""
    if conn.provider == Provider.SANDBOX:
        return conn
    try:
        update = get_provider(conn.provider).state(conn)
    except ProviderError as exc:
        raise _fail(conn, exc, what="state") from exc
    return connection_apply_update(conn, update)


def connection_disconnect(conn: Connection, *, actor=None) -> Connection:
    """Log the number out on the provider: it stays configured, disconnected, until reconnected."""
    try:
        get_provider(conn.provider).logout(conn)
    except ProviderError as exc:
        raise _fail(conn, exc, what="logout") from exc
    conn.status = ConnectionStatus.DISCONNECTED
    conn.qr_code = ""
    conn.qr_updated_at = None
    conn.last_error = ""
    _save(conn)
    _audit("connection.disconnect", conn, actor=actor)
    return conn


def connection_delete(conn: Connection, *, actor=None) -> None:
    """Remove the number on the provider (best effort: a provider that is down or already forgot it
    must not keep the row alive), then the row, its conversations and its webhook route."""
    try:
        get_provider(conn.provider).delete(conn)
    except ProviderError as exc:
        log.warning("whatsapp connection %s: provider delete failed: %s", conn.pk, exc)
    except LookupError:
        pass
    with transaction.atomic():
        _audit("connection.delete", conn, actor=actor)
        connection_delete_row(conn)


@transaction.atomic
def connection_update_settings(conn: Connection, *, name: str | None = None, default_team=...,
                               phone_number_id: str | None = None, waba_id: str | None = None,
                               access_token: str | None = None, app_secret: str | None = None,
                               verify_token: str | None = None, actor=None) -> Connection:
    """Change the name, default team and (Cloud API) the credentials. Secrets left blank or None
    keep their stored value, so a form never has to show them back."""
    fields = []
    if name is not None:
        conn.name = name
        fields.append("name")
    if default_team is not ...:
        conn.default_team = default_team
        fields.append("default_team")
    changed_secrets = []
    if conn.provider == Provider.CLOUD_API:
        if phone_number_id is not None and phone_number_id != conn.instance_name:
            conn.instance_name = phone_number_id
            fields.append("instance_name")
        if waba_id is not None and waba_id != conn.config.get("waba_id", ""):
            conn.config = {**conn.config, "waba_id": waba_id}
            fields.append("config")
        creds = conn.get_credentials()
        for key, value in (("access_token", access_token), ("app_secret", app_secret),
                           ("verify_token", verify_token)):
            if value:
                if creds.get(key) != value:
                    changed_secrets.append(key)
                creds[key] = value
        if changed_secrets:
            conn.set_credentials(creds)
            fields.append("credentials")
    if fields:
        conn.save(update_fields=fields)
        if "instance_name" in fields:
            _sync_route(conn)
        _publish(conn)
        _audit("connection.update", conn, actor=actor,
               details={"fields": [f for f in fields if f != "credentials"], "secrets": changed_secrets})
    return conn


def connection_test(conn: Connection, *, actor=None) -> str:
    """Check the credentials with a real provider call. Success returns the provider's short
    description (e.g. the verified number) and marks a Cloud API number connected; a failure marks
    it ``error`` with the provider's message and raises ConnectionActionError."""
    try:
        result = get_provider(conn.provider).test_credentials(conn)
    except ProviderError as exc:
        raise _fail(conn, exc, what="test") from exc
    except NotImplementedError:
        raise ConnectionActionError("not_supported", _("This kind of connection has no credentials to test.")) \
            from None
    if conn.provider == Provider.CLOUD_API:
        conn.status = ConnectionStatus.CONNECTED
        conn.last_error = ""
        conn.last_seen_at = timezone.now()
        _save(conn, ["status", "last_error", "last_seen_at"])
    _audit("connection.test", conn, actor=actor)
    return result or _("The credentials work.")


_DROPPED = {ConnectionStatus.DISCONNECTED, ConnectionStatus.ERROR}


def connection_apply_update(conn: Connection, update: ConnectionUpdate) -> Connection:
    """Apply a provider's connection/QR event (used by the pipeline and by status refreshes):
    status, phone, last_error (what happened and what to do), the QR while awaiting a scan
    (cleared on connect), last_seen_at. Publishes ``connection.updated``; when a number drops and
    the provider will not reconnect by itself, every Admin is notified."""
    with transaction.atomic():
        locked = Connection.objects.select_for_update().get(pk=conn.pk)
        previous = locked.status
        now = timezone.now()
        if update.qr_code:
            locked.qr_code = update.qr_code
            locked.qr_updated_at = now
        status = update.status or (ConnectionStatus.AWAITING_QR if update.qr_code else locked.status)
        if status == ConnectionStatus.CONNECTING and locked.qr_code:
            status = ConnectionStatus.AWAITING_QR  # Evolution says "connecting" while a QR waits for a scan
        if status in ConnectionStatus.values:
            locked.status = status
        if update.phone:
            locked.phone_number = update.phone[:20]
        if locked.status == ConnectionStatus.CONNECTED:
            locked.qr_code = ""
            locked.qr_updated_at = None
            locked.last_error = ""
        elif locked.status in _DROPPED:
            locked.qr_code = ""
            locked.qr_updated_at = None
        if update.error:
            locked.last_error = update.error[:1000]
        elif locked.status in (ConnectionStatus.AWAITING_QR, ConnectionStatus.CONNECTING):
            locked.last_error = ""
        locked.last_seen_at = now
        locked.save(update_fields=_SAVED_FIELDS)
        _publish(locked)
        if previous == ConnectionStatus.CONNECTED and locked.status in _DROPPED and not update.reconnect:
            _notify_dropped(locked)
    for field in _SAVED_FIELDS:
        setattr(conn, field, getattr(locked, field))
    return conn


def _notify_dropped(conn: Connection) -> None:
    from django.urls import reverse

    from apps.notifications.services import notification_send

    title = _("WhatsApp number %(name)s is offline") % {"name": conn.name}
    body = conn.last_error or _("It will not reconnect by itself. Open Connections and reconnect it.")
    try:
        link = reverse("whatsapp:connections")
    except Exception:  # noqa: BLE001 - urls not loaded in some contexts
        link = ""
    notification_send(role="admin", kind="connection.dropped", title=title, body=body, link=link)
