"""Every write to users, teams and invitations."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone

from .errors import AccountError
from .models import Invitation, Team, User
from .roles import Role


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


def user_update_profile(*, user: User, name: str, avatar=None, language: str = "", theme: str = "") -> User:
    user.name = name.strip()
    fields = ["name"]
    if avatar is not None:
        user.avatar = avatar
        fields.append("avatar")
    user.save(update_fields=fields)
    return user_update_preferences(user=user, language=language or None, theme=theme or None)


def _ensure_another_admin(user: User) -> None:
    if user.role == Role.ADMIN and not User.objects.filter(role=Role.ADMIN, is_active=True).exclude(pk=user.pk).exists():
        raise AccountError("last_admin")


def user_set_role(*, user: User, role: str, by: User | None = None) -> User:
    if role not in Role.values:
        raise ValueError(role)
    if role != Role.ADMIN:
        _ensure_another_admin(user)
    user.role = role
    user.save(update_fields=["role"])
    return user


def user_set_active(*, user: User, active: bool, by: User | None = None) -> User:
    if not active:
        _ensure_another_admin(user)
    user.is_active = active
    user.save(update_fields=["is_active"])
    return user


def team_create(*, name: str, members: list[User] | None = None) -> Team:
    team = Team.objects.create(name=name.strip())
    if members:
        team.members.set(members)
    return team


def team_update(*, team: Team, name: str | None = None, members: list[User] | None = None) -> Team:
    if name is not None:
        team.name = name.strip()
        team.save(update_fields=["name"])
    if members is not None:
        team.members.set(members)
    return team


def invitation_create(*, email: str, role: str, invited_by: User, team: Team | None = None) -> Invitation:
    from .emails import send_invitation_email

    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise AccountError("email_taken")
    invitation = Invitation.objects.create(
        email=email, role=role, team=team, invited_by=invited_by,
        expires_at=timezone.now() + settings.INVITATION_TTL,
    )
    transaction.on_commit(lambda: send_invitation_email(invitation.pk))
    return invitation


def invitation_for_token(token: str) -> Invitation:
    invitation = Invitation.objects.filter(token=token).first()
    if invitation is None:
        raise AccountError("invitation_invalid")
    if invitation.accepted_at is not None:
        raise AccountError("invitation_used")
    if invitation.expires_at <= timezone.now():
        raise AccountError("invitation_expired")
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, name: str, password: str) -> User:
    invitation = invitation_for_token(token)
    validate_password(password)
    user = user_create(email=invitation.email, password=password, name=name, role=invitation.role)
    if invitation.team_id:
        invitation.team.members.add(user)
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    return user
