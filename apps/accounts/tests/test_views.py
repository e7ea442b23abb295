"""The accounts pages as a user meets them: profile, team management, invitations, password reset."""
import io
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext_lazy as _
from django_tenants.utils import schema_context
from PIL import Image

from apps.accounts.errors import AccountError
from apps.accounts.models import Invitation, Team, User
from apps.accounts.roles import Role
from apps.billing.selectors import plan_limit
from conftest import PASSWORD, TENANTS, host_of, make_user

NEW_PASSWORD = "brand-new-horse-77"
PROFILE = "/accounts/profile/"
TEAM = "/accounts/team/"


def _client_for(tenant, user):
    client = Client(HTTP_HOST=host_of(tenant))
    with schema_context(tenant.schema_name):
        client.force_login(user)
    return client


@pytest.fixture
def agent(tenant):
    return make_user(tenant, email="agent@alpha.test", role=Role.AGENT, name="Agent Alpha")


@pytest.fixture
def agent_client(tenant, agent):
    return _client_for(tenant, agent)


def _in(tenant, fn):
    with schema_context(tenant.schema_name):
        return fn()


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _t(response, message, **params) -> str:
    """``message`` as the user reads it: in the language the response was rendered in."""
    with translation.override(response["Content-Language"]):
        text = str(message)
    return text % params if params else text


def _shows(response, message, **params) -> bool:
    return escape(_t(response, message, **params)) in response.content.decode()


def _error(code):
    return AccountError.messages[code]


def _png(size=(32, 32), noise=False) -> io.BytesIO:
    if noise:
        import os

        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        image = Image.new("RGB", size, "#7C3AED")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    buffer.seek(0)
    buffer.name = "me.png"
    return buffer


# --- who may open what --------------------------------------------------------------------------

TEAM_POSTS = [
    ("/accounts/team/invitations/", {"email": "x@example.test", "role": "agent"}),
    ("/accounts/team/invitations/1/resend/", {}),
    ("/accounts/team/invitations/1/revoke/", {}),
    ("/accounts/team/members/1/role/", {"role": "agent"}),
    ("/accounts/team/members/1/active/", {"active": "0"}),
    ("/accounts/team/teams/", {"name": "Sales"}),
    ("/accounts/team/teams/1/", {"name": "Sales"}),
]


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(tenant_client):
    for url in (PROFILE, TEAM):
        response = tenant_client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    for url, data in TEAM_POSTS:
        response = tenant_client.post(url, data)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_agent_has_a_profile_but_no_team_page(tenant, agent_client):
    assert agent_client.get(PROFILE).status_code == 200
    assert agent_client.get(TEAM).status_code == 403
    for url, data in TEAM_POSTS:
        assert agent_client.post(url, data).status_code == 403, url
    assert _in(tenant, lambda: User.objects.get(pk=1).role) == Role.ADMIN
    assert not _in(tenant, lambda: Team.objects.exists())


@pytest.mark.django_db
def test_admin_sees_team_page(owner_client, agent):
    response = owner_client.get(TEAM)
    assert response.status_code == 200
    body = response.content.decode()
    assert "agent@alpha.test" in body
    assert TENANTS["alpha"]["owner"] in body
    assert owner_client.get(PROFILE).status_code == 200


# --- profile --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_profile_saves_name_language_theme(tenant, agent, agent_client):
    response = agent_client.post(PROFILE, {"name": "Ana Souza", "language": "en", "theme": "light"}, follow=True)
    assert response.status_code == 200
    assert _t(response, _("Your profile was saved.")) in _messages(response)
    user = _in(tenant, lambda: User.objects.get(pk=agent.pk))
    assert (user.name, user.language, user.theme) == ("Ana Souza", "en", "light")
    assert response["Content-Language"] == "en"  # the next page already speaks the new language
    assert 'class="light"' in response.content.decode()


@pytest.mark.django_db
def test_profile_errors_are_shown_in_the_page(tenant, agent, agent_client):
    response = agent_client.post(PROFILE, {"name": "", "language": "xx", "theme": "pink"})
    assert response.status_code == 400
    form = response.context["profile_form"]
    assert set(form.errors) == {"name", "language", "theme"}
    assert "field-error" in response.content.decode()
    assert _in(tenant, lambda: User.objects.get(pk=agent.pk).name) == "Agent Alpha"


@pytest.mark.django_db
def test_avatar_upload_and_size_limit(tenant, agent, agent_client):
    response = agent_client.post(PROFILE, {"name": "Ana", "language": "", "theme": "dark", "avatar": _png()})
    assert response.status_code == 302
    user = _in(tenant, lambda: User.objects.get(pk=agent.pk))
    try:
        assert user.avatar.name.startswith("avatars/")
        with schema_context(tenant.schema_name):
            assert user.avatar.storage.exists(user.avatar.name)
        page = agent_client.get(PROFILE).content.decode()
        assert f"/media/{tenant.schema_name}/{user.avatar.name}" in page

        big = _png(size=(1000, 1000), noise=True)
        assert big.getbuffer().nbytes > 2 * 1024 * 1024
        response = agent_client.post(PROFILE, {"name": "Ana", "language": "", "theme": "dark", "avatar": big})
        assert response.status_code == 400
        assert response.context["profile_form"].errors["avatar"]
        assert _in(tenant, lambda: User.objects.get(pk=agent.pk).avatar.name) == user.avatar.name

        not_image = io.BytesIO(b"%PDF-1.4 not an image")
        not_image.name = "cv.png"
        response = agent_client.post(PROFILE, {"name": "Ana", "language": "", "theme": "dark", "avatar": not_image})
        assert response.status_code == 400
        assert "avatar" in response.context["profile_form"].errors
        assert _in(tenant, lambda: User.objects.get(pk=agent.pk).avatar.name) == user.avatar.name
    finally:
        with schema_context(tenant.schema_name):
            user.avatar.storage.delete(user.avatar.name)


@pytest.mark.django_db
def test_password_change_keeps_session(tenant, agent, agent_client):
    url = "/accounts/profile/password/"
    response = agent_client.post(url, {"old_password": "wrong", "new_password1": NEW_PASSWORD,
                                       "new_password2": NEW_PASSWORD})
    assert response.status_code == 400
    assert "old_password" in response.context["password_form"].errors

    response = agent_client.post(url, {"old_password": PASSWORD, "new_password1": "12345678",
                                       "new_password2": "12345678"})
    assert response.status_code == 400  # validators: too common, entirely numeric
    assert "new_password2" in response.context["password_form"].errors

    response = agent_client.post(url, {"old_password": PASSWORD, "new_password1": NEW_PASSWORD,
                                       "new_password2": NEW_PASSWORD + "x"})
    assert response.status_code == 400

    response = agent_client.post(url, {"old_password": PASSWORD, "new_password1": NEW_PASSWORD,
                                       "new_password2": NEW_PASSWORD}, follow=True)
    assert response.status_code == 200
    assert _t(response, _("Your password was changed.")) in _messages(response)
    home = agent_client.get("/")  # still signed in: an agent's home is the inbox, not the login page
    assert (home.status_code, home.url) == (302, "/inbox/")
    assert _in(tenant, lambda: User.objects.get(pk=agent.pk).check_password(NEW_PASSWORD))


# --- invitations ------------------------------------------------------------------------------------


def _invite(client, django_capture_on_commit_callbacks, **data):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post("/accounts/team/invitations/", data)


def _link_from(message) -> str:
    match = re.search(r"https?://\S+/accounts/invite/\S+/", message.body)
    assert match, message.body
    return match.group(0)


@pytest.mark.django_db
def test_invite_email_accept_and_sign_in(tenant, owner_client, django_capture_on_commit_callbacks):
    team = _in(tenant, lambda: Team.objects.create(name="Sales"))
    response = _invite(owner_client, django_capture_on_commit_callbacks,
                       email="bia@example.test", role=Role.SUPERVISOR, team=team.pk)
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    invitation = _in(tenant, lambda: Invitation.objects.get(email="bia@example.test"))
    link = _link_from(mail.outbox[0])
    assert f"//{host_of(tenant)}" in link and invitation.token in link
    assert "bia@example.test" in owner_client.get(TEAM).content.decode()  # listed as pending

    visitor = Client(HTTP_HOST=host_of(tenant))
    path = link.split(host_of(tenant), 1)[1].split("/", 1)[1]
    page = visitor.get("/" + path)
    assert page.status_code == 200
    body = page.content.decode()
    assert tenant.name in body and "bia@example.test" in body

    response = visitor.post("/" + path, {"name": "Bia", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert visitor.get("/").status_code == 200  # signed in
    user = _in(tenant, lambda: User.objects.get(email="bia@example.test"))
    assert user.role == Role.SUPERVISOR and user.name == "Bia"
    assert _in(tenant, lambda: list(user.teams.values_list("name", flat=True))) == ["Sales"]

    # the link is spent
    again = Client(HTTP_HOST=host_of(tenant)).get("/" + path)
    assert again.status_code == 410
    assert _shows(again, _error("invitation_used"))


@pytest.mark.django_db
def test_accept_page_errors(tenant, owner, django_capture_on_commit_callbacks):
    from apps.accounts.services import invitation_create

    with schema_context(tenant.schema_name):
        invitation = invitation_create(email="c@example.test", role=Role.AGENT, invited_by=owner, tenant=tenant)
    client = Client(HTTP_HOST=host_of(tenant))
    url = f"/accounts/invite/{invitation.token}/"
    response = client.post(url, {"name": "C", "password1": NEW_PASSWORD, "password2": "different-one-1"})
    assert response.status_code == 400
    assert "password2" in response.context["form"].errors
    response = client.post(url, {"name": "C", "password1": "123", "password2": "123"})
    assert response.status_code == 400
    assert "password1" in response.context["form"].errors
    assert not _in(tenant, lambda: User.objects.filter(email="c@example.test").exists())
    assert "_auth_user_id" not in client.session

    garbage = client.get("/accounts/invite/this-is-not-a-token/")
    assert garbage.status_code == 404
    assert _shows(garbage, _error("invitation_invalid"))

    _in(tenant, lambda: Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(hours=1)))
    expired = client.get(url)
    assert expired.status_code == 410
    assert _shows(expired, _error("invitation_expired"))
    assert client.post(url, {"name": "C", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}).status_code == 410
    assert not _in(tenant, lambda: User.objects.filter(email="c@example.test").exists())


@pytest.mark.django_db
def test_invite_form_errors(tenant, owner_client, django_capture_on_commit_callbacks):
    response = _invite(owner_client, django_capture_on_commit_callbacks, email="not-an-email", role="agent")
    assert response.status_code == 400
    assert "email" in response.context["invite_form"].errors
    response = _invite(owner_client, django_capture_on_commit_callbacks, email=TENANTS["alpha"]["owner"],
                       role="agent")
    assert response.status_code == 400
    assert response.context["invite_form"].errors["email"] == [_t(response, _error("email_taken"))]
    response = _invite(owner_client, django_capture_on_commit_callbacks, email="ok@example.test", role="boss")
    assert response.status_code == 400
    assert mail.outbox == []


@pytest.mark.django_db
def test_user_limit_blocks_invitations(tenant, owner_client, django_capture_on_commit_callbacks):
    cap = plan_limit(tenant, "users")
    assert cap is not None
    active = _in(tenant, lambda: User.objects.filter(is_active=True).count())
    for n in range(cap - active):
        make_user(tenant, email=f"seat{n}@alpha.test")
    response = _invite(owner_client, django_capture_on_commit_callbacks, email="late@example.test", role="agent")
    assert response.status_code == 400
    assert _shows(response, _error("user_limit"))
    assert not _in(tenant, lambda: Invitation.objects.exists())
    assert mail.outbox == []


@pytest.mark.django_db
def test_revoke_and_resend(tenant, owner_client, django_capture_on_commit_callbacks):
    _invite(owner_client, django_capture_on_commit_callbacks, email="r@example.test", role="agent")
    invitation = _in(tenant, lambda: Invitation.objects.get(email="r@example.test"))
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"/accounts/team/invitations/{invitation.pk}/resend/", follow=True)
    assert _t(response, _("Invitation sent again to %(email)s."), email="r@example.test") in _messages(response)
    assert len(mail.outbox) == 2 and invitation.token in mail.outbox[1].body

    response = owner_client.post(f"/accounts/team/invitations/{invitation.pk}/revoke/", follow=True)
    assert _t(response, _("Invitation to %(email)s revoked."), email="r@example.test") in _messages(response)
    assert not _in(tenant, lambda: Invitation.objects.filter(pk=invitation.pk).exists())
    assert Client(HTTP_HOST=host_of(tenant)).get(f"/accounts/invite/{invitation.token}/").status_code == 404
    assert owner_client.post(f"/accounts/team/invitations/{invitation.pk}/revoke/").status_code == 404


# --- members ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_change_role_with_htmx_returns_the_row(tenant, agent, owner_client):
    response = owner_client.post(f"/accounts/team/members/{agent.pk}/role/", {"role": "supervisor"},
                                 HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="member-{agent.pk}"')
    assert re.search(r'<option value="supervisor" selected>', body)
    assert _in(tenant, lambda: User.objects.get(pk=agent.pk).role) == Role.SUPERVISOR

    response = owner_client.post(f"/accounts/team/members/{agent.pk}/role/", {"role": "overlord"},
                                 HTTP_HX_REQUEST="true")
    assert _shows(response, _("Choose a valid role."))
    assert _in(tenant, lambda: User.objects.get(pk=agent.pk).role) == Role.SUPERVISOR


@pytest.mark.django_db
def test_last_admin_cannot_demote_or_deactivate_self(tenant, owner, owner_client):
    response = owner_client.post(f"/accounts/team/members/{owner.pk}/role/", {"role": "agent"},
                                 HTTP_HX_REQUEST="true")
    assert _shows(response, _error("last_admin"))
    response = owner_client.post(f"/accounts/team/members/{owner.pk}/role/", {"role": "agent"})
    assert response.status_code == 400
    assert _shows(response, _error("last_admin"))
    response = owner_client.post(f"/accounts/team/members/{owner.pk}/active/", {"active": "0"})
    assert response.status_code == 400
    assert _shows(response, _error("self_deactivate"))
    me = _in(tenant, lambda: User.objects.get(pk=owner.pk))
    assert me.role == Role.ADMIN and me.is_active


@pytest.mark.django_db
def test_deactivate_and_reactivate(tenant, agent, owner_client):
    response = owner_client.post(f"/accounts/team/members/{agent.pk}/active/", {"active": "0"}, follow=True)
    assert _t(response, _("%(name)s was deactivated."), name="Agent Alpha") in _messages(response)
    assert not _in(tenant, lambda: User.objects.get(pk=agent.pk).is_active)
    login = Client(HTTP_HOST=host_of(tenant)).post("/accounts/login/",
                                                    {"username": "agent@alpha.test", "password": PASSWORD})
    assert login.status_code == 200 and "_auth_user_id" not in login.client.session

    response = owner_client.post(f"/accounts/team/members/{agent.pk}/active/", {"active": "1"},
                                 HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert _shows(response, _("%(name)s was reactivated."), name="Agent Alpha")
    assert _in(tenant, lambda: User.objects.get(pk=agent.pk).is_active)


@pytest.mark.django_db
def test_deactivated_user_loses_the_session(tenant, agent, agent_client, owner_client):
    assert agent_client.get(PROFILE).status_code == 200
    owner_client.post(f"/accounts/team/members/{agent.pk}/active/", {"active": "0"})
    assert agent_client.get(PROFILE).status_code == 302


# --- teams ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_rename_and_set_members(tenant, owner, agent, owner_client):
    response = owner_client.post("/accounts/team/teams/", {"name": "Support", "members": [agent.pk]}, follow=True)
    assert _t(response, _("Team %(name)s created."), name="Support") in _messages(response)
    team = _in(tenant, lambda: Team.objects.get(name="Support"))
    assert _in(tenant, lambda: list(team.members.values_list("pk", flat=True))) == [agent.pk]

    response = owner_client.post("/accounts/team/teams/", {"name": "support"})
    assert response.status_code == 400
    assert response.context["new_team_form"].errors["name"] == [_t(response, _error("team_name_taken"))]

    response = owner_client.post(f"/accounts/team/teams/{team.pk}/", {"name": "Care", "members": [owner.pk]},
                                 follow=True)
    assert _t(response, _("Team %(name)s saved."), name="Care") in _messages(response)
    assert _in(tenant, lambda: (Team.objects.get(pk=team.pk).name,
                                list(Team.objects.get(pk=team.pk).members.values_list("pk", flat=True)))) == (
        "Care", [owner.pk])
    assert owner_client.post("/accounts/team/teams/999999/", {"name": "X"}).status_code == 404


# --- tenant isolation -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_alpha_admin_cannot_touch_beta_users(tenant, other_tenant, owner_client):
    beta_user = make_user(other_tenant, email="beta-agent@beta.test", role=Role.AGENT)
    assert not _in(tenant, lambda: User.objects.filter(pk=beta_user.pk).exists())
    assert owner_client.post(f"/accounts/team/members/{beta_user.pk}/role/", {"role": "admin"}).status_code == 404
    assert owner_client.post(f"/accounts/team/members/{beta_user.pk}/active/", {"active": "0"}).status_code == 404
    beta_again = _in(other_tenant, lambda: User.objects.get(pk=beta_user.pk))
    assert beta_again.role == Role.AGENT and beta_again.is_active

    page = owner_client.get(TEAM).content.decode()
    assert "beta-agent@beta.test" not in page
    assert TENANTS["beta"]["owner"] not in page


@pytest.mark.django_db
def test_beta_invitations_and_teams_are_invisible_on_alpha(tenant, other_tenant, owner_client):
    from apps.accounts.services import invitation_create

    with schema_context(other_tenant.schema_name):
        beta_owner = User.objects.get(email=TENANTS["beta"]["owner"])
        beta_team = Team.objects.create(name="Beta pizza makers")
        invitation = invitation_create(email="b-invite@example.test", role=Role.AGENT, invited_by=beta_owner,
                                       tenant=other_tenant)
    assert not _in(tenant, lambda: Invitation.objects.filter(pk=invitation.pk).exists())
    assert owner_client.post(f"/accounts/team/invitations/{invitation.pk}/revoke/").status_code == 404
    assert owner_client.post(f"/accounts/team/invitations/{invitation.pk}/resend/").status_code == 404
    assert Client(HTTP_HOST=host_of(tenant)).get(f"/accounts/invite/{invitation.token}/").status_code == 404
    if not _in(tenant, lambda: Team.objects.filter(pk=beta_team.pk).exists()):
        assert owner_client.post(f"/accounts/team/teams/{beta_team.pk}/", {"name": "Hijack"}).status_code == 404
    page = owner_client.get(TEAM).content.decode()
    assert "b-invite@example.test" not in page and "Beta pizza makers" not in page
    assert _in(other_tenant, lambda: Invitation.objects.filter(pk=invitation.pk).exists())
    assert _in(other_tenant, lambda: Team.objects.get(pk=beta_team.pk).name) == "Beta pizza makers"


# --- password reset ---------------------------------------------------------------------------------


def _request_reset(client, email):
    return client.post("/accounts/password-reset/", {"email": email})


@pytest.mark.django_db
def test_password_reset_by_email(tenant, agent):
    _in(tenant, lambda: User.objects.filter(pk=agent.pk).update(language="es"))
    client = Client(HTTP_HOST=host_of(tenant))
    assert 'href="/accounts/password-reset/"' in client.get("/accounts/login/").content.decode()
    assert client.get("/accounts/password-reset/").status_code == 200

    response = _request_reset(client, "agent@alpha.test")
    assert response.status_code == 302 and response["Location"] == "/accounts/password-reset/sent/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["agent@alpha.test"]
    assert message.extra_headers["Content-Language"] == "es"
    assert tenant.name in message.subject
    link = re.search(r"http://(\S+?)(/accounts/password-reset/\S+/\S+/)", message.body)
    assert link and link.group(1) == host_of(tenant)

    page = client.get(link.group(2), follow=True)
    assert page.status_code == 200 and page.context["validlink"]
    form_url = page.redirect_chain[-1][0]
    response = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/accounts/password-reset/complete/"
    assert _in(tenant, lambda: User.objects.get(pk=agent.pk).check_password(NEW_PASSWORD))

    # the link works once
    assert not client.get(link.group(2), follow=True).context["validlink"]


@pytest.mark.django_db
def test_password_reset_for_unknown_email_sends_nothing(tenant, other_tenant):
    client = Client(HTTP_HOST=host_of(other_tenant))
    response = _request_reset(client, TENANTS["alpha"]["owner"])  # alpha's owner does not exist on beta
    assert response.status_code == 302
    assert mail.outbox == []


@pytest.mark.django_db
def test_reset_link_from_alpha_does_not_work_on_beta(tenant, other_tenant):
    make_user(other_tenant, email="agent@alpha.test")  # same email exists in both companies
    make_user(tenant, email="agent@alpha.test")
    _request_reset(Client(HTTP_HOST=host_of(tenant)), "agent@alpha.test")
    path = re.search(r"(/accounts/password-reset/\S+/\S+/)", mail.outbox[0].body).group(1)

    beta = Client(HTTP_HOST=host_of(other_tenant))
    page = beta.get(path, follow=True)
    assert page.status_code == 200
    assert not page.context["validlink"]
    assert 'href="/accounts/password-reset/"' in page.content.decode()  # ask for a new link
    assert _in(other_tenant, lambda: User.objects.get(email="agent@alpha.test").check_password(PASSWORD))


@pytest.mark.django_db
def test_password_reset_clears_the_lockout(tenant, agent):
    client = Client(HTTP_HOST=host_of(tenant), REMOTE_ADDR="10.9.9.9")
    for _ in range(5):
        client.post("/accounts/login/", {"username": "agent@alpha.test", "password": "wrong-password-1"})
    assert client.post("/accounts/login/", {"username": "agent@alpha.test", "password": PASSWORD}).status_code == 429

    _request_reset(client, "agent@alpha.test")
    path = re.search(r"(/accounts/password-reset/\S+/\S+/)", mail.outbox[0].body).group(1)
    form_url = client.get(path, follow=True).redirect_chain[-1][0]
    client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    response = client.post("/accounts/login/", {"username": "agent@alpha.test", "password": NEW_PASSWORD})
    assert response.status_code == 302
