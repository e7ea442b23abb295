from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import selectors, services
from .errors import AccountError
from .forms import (EmailLoginForm, InvitationAcceptForm, InvitationForm, ProfileForm, RoleForm,
                    StyledPasswordChangeForm, StyledSetPasswordForm, TeamForm, TenantPasswordResetForm)
from .models import Invitation, Team, User
from .permissions import capability_required
from .roles import Role

# --- sign in ------------------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    form_class = EmailLoginForm
    redirect_authenticated_user = True


def lockout_response(request, original_response=None, credentials=None):
    """What django-axes shows after 5 failures in 15 minutes for this email + IP."""
    form = EmailLoginForm(request, data=None)
    message = _("Too many failed attempts. For your security this login is locked for 15 minutes; "
                "try again later or reset your password.")
    return render(request, "accounts/login.html", {"form": form, "lockout_message": message}, status=429)


# --- password reset by email --------------------------------------------------------------------


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    form_class = TenantPasswordResetForm
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password-reset-done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    form_class = StyledSetPasswordForm
    success_url = reverse_lazy("accounts:password-reset-complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        services.user_unlock(email=self.user.email)
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


# --- my profile ---------------------------------------------------------------------------------


def _render_profile(request, *, profile_form=None, password_form=None, status=200):
    user = request.user
    profile_form = profile_form or ProfileForm(initial={
        "name": user.name, "avatar": user.avatar, "language": user.language, "theme": user.theme})
    password_form = password_form or StyledPasswordChangeForm(user)
    return render(request, "accounts/profile.html",
                  {"profile_form": profile_form, "password_form": password_form}, status=status)


@login_required
def profile(request):
    if request.method != "POST":
        return _render_profile(request)
    form = ProfileForm(request.POST, request.FILES, initial={"avatar": request.user.avatar})
    if not form.is_valid():
        return _render_profile(request, profile_form=form, status=400)
    data = form.cleaned_data
    services.user_update_profile(
        user=request.user, name=data["name"],
        avatar=data["avatar"] if "avatar" in form.changed_data else None,
        language=data["language"] or None, theme=data["theme"],
    )
    # confirm in the language the user just chose
    with translation.override(request.user.language or request.LANGUAGE_CODE):
        messages.success(request, _("Your profile was saved."))
    return redirect("accounts:profile")


@login_required
@require_POST
def password_change(request):
    form = StyledPasswordChangeForm(request.user, request.POST)
    if not form.is_valid():
        return _render_profile(request, password_form=form, status=400)
    services.user_change_password(user=request.user, password=form.cleaned_data["new_password1"])
    update_session_auth_hash(request, request.user)
    messages.success(request, _("Your password was changed."))
    return redirect("accounts:profile")


# --- team management ----------------------------------------------------------------------------


def _render_team(request, *, invite_form=None, new_team_form=None, edit_forms=None, status=200):
    from apps.billing.selectors import plan_limit

    teams = list(selectors.team_list())
    edit_forms = edit_forms or {}
    team_forms = [
        (team, edit_forms.get(team.pk) or TeamForm(
            initial={"name": team.name, "members": [m.pk for m in team.members.all()]},
            auto_id=f"team{team.pk}_%s"))
        for team in teams
    ]
    context = {
        "members": selectors.member_list(),
        "invitations": selectors.invitation_open_list(),
        "team_forms": team_forms,
        "invite_form": invite_form or InvitationForm(),
        "new_team_form": new_team_form or TeamForm(auto_id="newteam_%s"),
        "roles": Role.choices,
        "seats_used": selectors.seats_used(),
        "seats_limit": plan_limit(request.tenant, "users"),
    }
    return render(request, "accounts/team.html", context, status=status)


def _after_change(request, *, error=None, success=None):
    """Full-page form posts: back to the team page (error -> same page, 400, with the message)."""
    if error:
        messages.error(request, error)
        return _render_team(request, status=400)
    messages.success(request, success)
    return redirect("accounts:team")


def _member_response(request, member, *, error=None, success=None):
    """htmx: the member's row again (with the error inline); otherwise a full page."""
    if not request.htmx:
        return _after_change(request, error=error, success=success)
    member = selectors.member_list().get(pk=member.pk)
    response = render(request, "accounts/partials/member_row.html",
                      {"member": member, "roles": Role.choices, "row_error": error,
                       "row_success": None if error else success})
    if member.pk == request.user.pk and not error:
        response["HX-Refresh"] = "true"  # my own rights changed: reload the page
    return response


@capability_required("team.manage")
def team(request):
    return _render_team(request)


@capability_required("team.manage")
@require_POST
def invitation_create(request):
    form = InvitationForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            invitation = services.invitation_create(email=data["email"], role=data["role"], team=data["team"],
                                                    invited_by=request.user, tenant=request.tenant)
        except AccountError as error:
            form.add_error("email" if error.code == "email_taken" else None, error.message)
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": invitation.email})
            return redirect("accounts:team")
    return _render_team(request, invite_form=form, status=400)


@capability_required("team.manage")
@require_POST
def invitation_resend(request, pk):
    invitation = get_object_or_404(Invitation, pk=pk, accepted_at__isnull=True)
    try:
        services.invitation_resend(invitation=invitation, tenant=request.tenant)
    except AccountError as error:
        return _after_change(request, error=error.message)
    return _after_change(request, success=_("Invitation sent again to %(email)s.") % {"email": invitation.email})


@capability_required("team.manage")
@require_POST
def invitation_revoke(request, pk):
    invitation = get_object_or_404(Invitation, pk=pk, accepted_at__isnull=True)
    services.invitation_revoke(invitation=invitation)
    return _after_change(request, success=_("Invitation to %(email)s revoked.") % {"email": invitation.email})


@capability_required("team.manage")
@require_POST
def member_role(request, pk):
    member = get_object_or_404(User, pk=pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _member_response(request, member, error=_("Choose a valid role."))
    try:
        services.user_set_role(user=member, role=form.cleaned_data["role"], by=request.user)
    except AccountError as error:
        return _member_response(request, member, error=error.message)
    return _member_response(request, member, success=_("%(name)s is now %(role)s.") % {
        "name": member, "role": member.get_role_display()})


@capability_required("team.manage")
@require_POST
def member_active(request, pk):
    member = get_object_or_404(User, pk=pk)
    active = request.POST.get("active") == "1"
    try:
        services.user_set_active(user=member, active=active, by=request.user)
    except AccountError as error:
        return _member_response(request, member, error=error.message)
    message = _("%(name)s was reactivated.") if active else _("%(name)s was deactivated.")
    return _member_response(request, member, success=message % {"name": member})


@capability_required("team.manage")
@require_POST
def team_create(request):
    form = TeamForm(request.POST, auto_id="newteam_%s")
    if form.is_valid():
        try:
            team = services.team_create(name=form.cleaned_data["name"], members=list(form.cleaned_data["members"]))
        except AccountError as error:
            form.add_error("name", error.message)
        else:
            messages.success(request, _("Team %(name)s created.") % {"name": team.name})
            return redirect("accounts:team")
    return _render_team(request, new_team_form=form, status=400)


@capability_required("team.manage")
@require_POST
def team_update(request, pk):
    team = get_object_or_404(Team, pk=pk)
    form = TeamForm(request.POST, auto_id=f"team{team.pk}_%s")
    if form.is_valid():
        try:
            services.team_update(team=team, name=form.cleaned_data["name"], members=list(form.cleaned_data["members"]))
        except AccountError as error:
            form.add_error("name", error.message)
        else:
            messages.success(request, _("Team %(name)s saved.") % {"name": team.name})
            return redirect("accounts:team")
    return _render_team(request, edit_forms={team.pk: form}, status=400)


# --- accepting an invitation --------------------------------------------------------------------


def _invitation_problem(request, error: AccountError):
    status = 404 if error.code == "invitation_invalid" else 410
    return render(request, "accounts/invitation_problem.html", {"message": error.message, "code": error.code},
                  status=status)


def invitation_accept(request, token):
    try:
        invitation = services.invitation_for_token(token)
    except AccountError as error:
        return _invitation_problem(request, error)
    form = InvitationAcceptForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept(token=token, name=form.cleaned_data["name"],
                                              password=form.cleaned_data["password1"])
        except AccountError as error:
            if error.code.startswith("invitation_"):
                return _invitation_problem(request, error)
            form.add_error(None, error.message)
        except ValidationError as error:
            form.add_error("password1", error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Welcome to %(company)s!") % {"company": request.tenant.name})
            return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "accounts/invitation_accept.html", {"invitation": invitation, "form": form},
                  status=400 if form.is_bound else 200)
