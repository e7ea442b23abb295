"""The rules of users, invitations and teams, checked at the service layer."""
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts import services
from apps.accounts.errors import AccountError
from apps.accounts.models import Invitation, Team, User
from apps.accounts.roles import Role
from apps.accounts.selectors import seats_used
from apps.billing.selectors import plan_limit
from conftest import PASSWORD, host_of

NEW_PASSWORD = "another-horse-42"


@pytest.fixture
def alpha(tenant):
    with tenant_context(tenant):
        yield tenant


def _owner():
    return User.objects.get(role=Role.ADMIN)


def _user(email, role=Role.AGENT):
    return services.user_create(email=email, password=PASSWORD, name=email.split("@")[0], role=role)


def _fill_seats(tenant):
    """Create agents until the plan's user limit is reached."""
    cap = plan_limit(tenant, "users")
    assert cap is not None, "the test tenant's plan must have a user limit"
    n = 0
    while seats_used() < cap:
        n += 1
        _user(f"filler{n}@alpha.test")
    return cap


def test_invitation_email_carries_token_link_on_tenant_host(alpha, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invitation_create(email="New@Example.test", role=Role.SUPERVISOR,
                                                invited_by=_owner())
    assert invitation.email == "new@example.test"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new@example.test"]
    assert f"{host_of(alpha)}" in message.body
    assert f"/accounts/invite/{invitation.token}/" in message.body
    assert alpha.name in message.subject
    assert message.extra_headers["Content-Language"] == alpha.language


def test_no_email_when_the_transaction_rolls_back(alpha, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.invitation_create(email="x@example.test", role=Role.AGENT, invited_by=_owner())
    assert len(callbacks) == 1
    assert mail.outbox == []  # nothing is sent before the commit


def test_inviting_an_existing_user_is_refused(alpha):
    with pytest.raises(AccountError) as error:
        services.invitation_create(email=_owner().email.upper(), role=Role.AGENT, invited_by=_owner())
    assert error.value.code == "email_taken"


def test_inviting_twice_updates_the_pending_invitation(alpha, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = services.invitation_create(email="twice@example.test", role=Role.AGENT, invited_by=_owner())
        second = services.invitation_create(email="twice@example.test", role=Role.ANALYST, invited_by=_owner())
    assert first.pk == second.pk
    assert Invitation.objects.filter(email="twice@example.test").count() == 1
    assert Invitation.objects.get(pk=first.pk).role == Role.ANALYST
    assert len(mail.outbox) == 2


def test_user_limit_counts_active_users_and_pending_invitations(alpha):
    cap = _fill_seats(alpha)
    assert User.objects.filter(is_active=True).count() == cap
    with pytest.raises(AccountError) as error:
        services.invitation_create(email="one-too-many@example.test", role=Role.AGENT, invited_by=_owner())
    assert error.value.code == "user_limit"
    assert not Invitation.objects.filter(email="one-too-many@example.test").exists()

    # a deactivated user frees a seat, which a pending invitation then takes
    filler = User.objects.filter(email__startswith="filler").first()
    services.user_set_active(user=filler, active=False, by=_owner())
    invitation = services.invitation_create(email="fits@example.test", role=Role.AGENT, invited_by=_owner())
    with pytest.raises(AccountError) as error:
        services.invitation_create(email="again@example.test", role=Role.AGENT, invited_by=_owner())
    assert error.value.code == "user_limit"
    # ... and reactivating the user now exceeds the plan
    with pytest.raises(AccountError) as error:
        services.user_set_active(user=filler, active=True, by=_owner())
    assert error.value.code == "user_limit"
    # revoking the invitation frees the seat again
    services.invitation_revoke(invitation=invitation)
    services.user_set_active(user=filler, active=True, by=_owner())
    assert User.objects.get(pk=filler.pk).is_active


def test_accept_creates_user_with_role_and_team(alpha):
    team = services.team_create(name="Sales")
    invitation = services.invitation_create(email="ana@example.test", role=Role.SUPERVISOR, team=team,
                                            invited_by=_owner())
    user = services.invitation_accept(token=invitation.token, name="Ana Lima", password=NEW_PASSWORD)
    assert user.email == "ana@example.test"
    assert user.role == Role.SUPERVISOR
    assert user.check_password(NEW_PASSWORD)
    assert list(user.teams.all()) == [team]
    assert Invitation.objects.get(pk=invitation.pk).accepted_at is not None

    with pytest.raises(AccountError) as error:
        services.invitation_accept(token=invitation.token, name="Again", password=NEW_PASSWORD)
    assert error.value.code == "invitation_used"


def test_accept_refuses_expired_and_unknown_tokens(alpha):
    invitation = services.invitation_create(email="late@example.test", role=Role.AGENT, invited_by=_owner())
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(AccountError) as error:
        services.invitation_accept(token=invitation.token, name="Late", password=NEW_PASSWORD)
    assert error.value.code == "invitation_expired"
    with pytest.raises(AccountError) as error:
        services.invitation_accept(token="not-a-token", name="Nobody", password=NEW_PASSWORD)
    assert error.value.code == "invitation_invalid"
    assert not User.objects.filter(email="late@example.test").exists()


def test_accept_applies_password_validators(alpha):
    invitation = services.invitation_create(email="weak@example.test", role=Role.AGENT, invited_by=_owner())
    with pytest.raises(ValidationError):
        services.invitation_accept(token=invitation.token, name="Weak", password="12345678")
    assert not User.objects.filter(email="weak@example.test").exists()
    assert Invitation.objects.get(pk=invitation.pk).accepted_at is None


def test_resend_extends_expiry_and_keeps_the_link(alpha, django_capture_on_commit_callbacks):
    invitation = services.invitation_create(email="re@example.test", role=Role.AGENT, invited_by=_owner())
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(days=1))
    invitation.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_resend(invitation=invitation)
    invitation.refresh_from_db()
    assert invitation.is_pending
    assert len(mail.outbox) == 1
    assert invitation.token in mail.outbox[0].body


def test_last_admin_cannot_be_demoted_or_deactivated(alpha):
    owner = _owner()
    with pytest.raises(AccountError) as error:
        services.user_set_role(user=owner, role=Role.AGENT, by=owner)
    assert error.value.code == "last_admin"
    with pytest.raises(AccountError) as error:
        services.user_set_active(user=owner, active=False)
    assert error.value.code == "last_admin"
    owner.refresh_from_db()
    assert owner.role == Role.ADMIN and owner.is_active

    # an inactive admin does not count as "another admin"
    other = _user("second-admin@alpha.test", role=Role.ADMIN)
    services.user_set_active(user=other, active=False, by=owner)
    with pytest.raises(AccountError):
        services.user_set_role(user=owner, role=Role.AGENT, by=owner)

    # with a second active admin the owner may step down
    services.user_set_active(user=other, active=True, by=owner)
    services.user_set_role(user=owner, role=Role.AGENT, by=owner)
    assert User.objects.get(pk=owner.pk).role == Role.AGENT


def test_nobody_deactivates_themselves(alpha):
    owner = _owner()
    _user("second-admin@alpha.test", role=Role.ADMIN)
    with pytest.raises(AccountError) as error:
        services.user_set_active(user=owner, active=False, by=owner)
    assert error.value.code == "self_deactivate"
    assert User.objects.get(pk=owner.pk).is_active


def test_teams_create_rename_members_and_unique_names(alpha):
    agent = _user("agent@alpha.test")
    team = services.team_create(name="  Support ", members=[agent])
    assert team.name == "Support"
    assert list(team.members.all()) == [agent]
    with pytest.raises(AccountError) as error:
        services.team_create(name="support")
    assert error.value.code == "team_name_taken"

    sales = services.team_create(name="Sales")
    with pytest.raises(AccountError):
        services.team_update(team=sales, name="SUPPORT")
    services.team_update(team=team, name="Customer care", members=[agent, _owner()])
    team.refresh_from_db()
    assert team.name == "Customer care"
    assert set(team.members.all()) == {agent, _owner()}
    assert Team.objects.count() == 2


def test_profile_update_language_reset_and_avatar_clear(alpha):
    owner = _owner()
    services.user_update_profile(user=owner, name=" Olga ", language="es", theme="light")
    owner.refresh_from_db()
    assert (owner.name, owner.language, owner.theme) == ("Olga", "es", "light")
    services.user_update_profile(user=owner, name="Olga", language=None)
    owner.refresh_from_db()
    assert owner.language == ""  # follows the company's language again
    assert owner.theme == "light"
