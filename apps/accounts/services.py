"""Every write to users, teams and invitations."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.db import connection, transaction
from django.utils import timezone

from .errors import AccountError
from .models import Invitation, Team, User
from .roles import Role


def _current_tenant(tenant=None):
    """The given tenant, else the connection's; a bare schema_context() leaves a FakeTenant there,
    so load the real row (plan, domain, language) when needed."""
    tenant = tenant if tenant is not None else getattr(connection, "tenant", None)
    if tenant is not None and not hasattr(tenant, "plan") and tenant.schema_name != "public":
        from tenants.models import Tenant

        tenant = Tenant.objects.get(schema_name=tenant.schema_name)
    return tenant


def _ensure_seat(*, tenant=None, adding: int = 1) -> None:
    """Raise ``user_limit`` when ``adding`` more seats would exceed the tenant plan's user limit.
    Active users and pending invitations both take a seat."""
    from apps.billing.selectors import within_limit

    from .selectors import seats_used

    tenant = _current_tenant(tenant)
    if tenant is None or getattr(tenant, "schema_name", "public") == "public":
        return
    if not within_limit(tenant, "users", used=seats_used(), adding=adding):
        raise AccountError("user_limit")


def user_create(
    *,
    email: str,
    password: str | None = None,
    name: str = "",
    role: str = Role.AGENT,
    language: str = "",
    is_staff: bool = False,
    is_superuser: bool = False,
) -> User:
    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise AccountError("email_taken")
    return User.objects.create_user(
        email, password, name=name, role=role, language=language, is_staff=is_staff,
        is_superuser=is_superuser,
    )


def user_update_preferences(*, user: User, language: str | None = None, theme: str | None = None) -> User:
    fields = []
    if language is not None:
        if language not in dict(settings.LANGUAGES):
            raise ValueError(language)
        user.language = language
        fields.append("language")
    if theme is not None:
        if theme not in ("dark", "light"):
            raise ValueError(theme)
        user.theme = theme
        fields.append("theme")
    if fields:
        user.save(update_fields=fields)
    return user


def user_update_profile(
    *, user: User, name: str, avatar=None, language: str | None = "", theme: str = ""
) -> User:
    """Name, avatar and preferences from the profile page.

    ``avatar``: None keeps the current picture, False removes it, a file replaces it.
    ``language``: "" keeps the current choice, None follows the company's language again.
    """
    old_avatar = user.avatar.name if user.avatar else ""
    user.name = name.strip()
    fields = ["name"]
    if avatar is not None:
        user.avatar = avatar or ""
        fields.append("avatar")
    if language is None:
        user.language = ""
        fields.append("language")
    user.save(update_fields=fields)
    if avatar is not None and old_avatar and old_avatar != user.avatar.name:
        storage = user.avatar.storage
        transaction.on_commit(lambda: storage.delete(old_avatar), robust=True)
    return user_update_preferences(user=user, language=language or None, theme=theme or None)


def user_change_password(*, user: User, password: str) -> User:
    """Set a new password (already validated by the form)."""
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


def user_unlock(*, email: str) -> None:
    """Forget the failed logins of ``email`` in this company (after a password reset)."""
    from axes.utils import reset

    reset(username=email)


def _ensure_another_admin(user: User) -> None:
    if user.role != Role.ADMIN or not user.is_active:
        return
    # lock the admins so two concurrent demotions cannot both pass the check
    others = list(
        User.objects.select_for_update().filter(role=Role.ADMIN, is_active=True).exclude(pk=user.pk).values_list(
            "pk", flat=True)
    )
    if not others:
        raise AccountError("last_admin")


@transaction.atomic
def user_set_role(*, user: User, role: str, by: User | None = None) -> User:
    if role not in Role.values:
        raise ValueError(role)
    if role != Role.ADMIN:
        _ensure_another_admin(user)
    user.role = role
    user.save(update_fields=["role"])
    return user


@transaction.atomic
def user_set_active(*, user: User, active: bool, by: User | None = None) -> User:
    if active == user.is_active:
        return user
    if not active:
        if by is not None and by.pk == user.pk:
            raise AccountError("self_deactivate")
        _ensure_another_admin(user)
    else:
        _ensure_seat()
    user.is_active = active
    user.save(update_fields=["is_active"])
    return user


def _ensure_team_name_free(name: str, exclude_pk: int | None = None) -> None:
    qs = Team.objects.filter(name__iexact=name)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise AccountError("team_name_taken")


@transaction.atomic
def team_create(*, name: str, members: list[User] | None = None) -> Team:
    name = name.strip()
    _ensure_team_name_free(name)
    team = Team.objects.create(name=name)
    if members:
        team.members.set(members)
    return team


@transaction.atomic
def team_update(*, team: Team, name: str | None = None, members: list[User] | None = None) -> Team:
    if name is not None:
        name = name.strip()
        _ensure_team_name_free(name, exclude_pk=team.pk)
        team.name = name
        team.save(update_fields=["name"])
    if members is not None:
        team.members.set(members)
    return team


def _send_invitation_on_commit(invitation: Invitation, tenant) -> None:
    from .emails import send_invitation_email

    pk = invitation.pk
    transaction.on_commit(lambda: send_invitation_email(pk, tenant=tenant), robust=True)


@transaction.atomic
def invitation_create(
    *, email: str, role: str, invited_by: User, team: Team | None = None, tenant=None
) -> Invitation:
    """Invite ``email`` with ``role`` (and optionally into ``team``); the email goes out on commit.
    Inviting an address that already has a pending invitation updates and re-sends that one."""
    if role not in Role.values:
        raise ValueError(role)
    tenant = _current_tenant(tenant)
    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise AccountError("email_taken")
    invitation = (
        Invitation.objects.select_for_update()
        .filter(email__iexact=email, accepted_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if invitation is None:
        _ensure_seat(tenant=tenant)
        invitation = Invitation.objects.create(
            email=email, role=role, team=team, invited_by=invited_by,
            expires_at=timezone.now() + settings.INVITATION_TTL,
        )
    else:
        invitation.role, invitation.team, invitation.invited_by = role, team, invited_by
        invitation.expires_at = timezone.now() + settings.INVITATION_TTL
        invitation.save(update_fields=["role", "team", "invited_by", "expires_at"])
    _send_invitation_on_commit(invitation, tenant)
    return invitation


@transaction.atomic
def invitation_resend(*, invitation: Invitation, tenant=None) -> Invitation:
    """Send the invitation again with a fresh expiry (the link stays the same)."""
    if invitation.accepted_at is not None:
        raise AccountError("invitation_used")
    if invitation.expires_at <= timezone.now():
        # an expired invitation no longer holds a seat; taking it back needs one
        _ensure_seat(tenant=tenant)
    invitation.expires_at = timezone.now() + settings.INVITATION_TTL
    invitation.save(update_fields=["expires_at"])
    _send_invitation_on_commit(invitation, _current_tenant(tenant))
    return invitation


def invitation_revoke(*, invitation: Invitation) -> None:
    """Withdraw an invitation: its link stops working and its seat is freed."""
    if invitation.accepted_at is not None:
        raise AccountError("invitation_used")
    invitation.delete()


def invitation_for_token(token: str) -> Invitation:
    invitation = Invitation.objects.select_related("team").filter(token=token).first()
    if invitation is None:
        raise AccountError("invitation_invalid")
    if invitation.accepted_at is not None:
        raise AccountError("invitation_used")
    if invitation.expires_at <= timezone.now():
        raise AccountError("invitation_expired")
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, name: str, password: str) -> User:
    # lock the row: two submissions of the same link cannot both create a user
    Invitation.objects.select_for_update().filter(token=token).first()
    invitation = invitation_for_token(token)
    validate_password(password, user=User(email=invitation.email, name=name))
    user = user_create(email=invitation.email, password=password, name=name.strip(), role=invitation.role)
    if invitation.team_id:
        invitation.team.members.add(user)
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    return user
