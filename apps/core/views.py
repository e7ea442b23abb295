from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from apps.accounts.roles import user_can
from apps.accounts.services import user_update_preferences
from tenants.services import tenant_update_profile

from .forms import CompanyProfileForm, PreferencesForm
from .health import readiness


@never_cache
def health(request):
    """Liveness: the process answers. Touches no database."""
    return HttpResponse("ok", content_type="text/plain")


@never_cache
def ready(request):
    result = readiness()
    return JsonResponse(result, status=200 if result["ok"] else 503)


@login_required
def home(request):
    """The tenant's home: the Visão Geral for those who may see it; agents go to their inbox;
    anyone else gets the getting-started page."""
    if user_can(request.user, "analytics.view"):
        from apps.analytics.views import overview_response

        return overview_response(request)
    if user_can(request.user, "conversations.reply"):
        return redirect("inbox:index")
    return render(request, "core/home.html", {
        "can_manage_company": user_can(request.user, "company.manage"),
        "can_manage_team": user_can(request.user, "team.manage"),
    })


def _safe_next(request) -> str | None:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return None


def _wants_fragment(request) -> bool:
    return bool(getattr(request, "htmx", False)) or request.headers.get("X-Requested-With") in ("fetch", "XMLHttpRequest")


@require_POST
@login_required
def preferences(request):
    """Saves the signed-in user's theme and/or language. 204 for htmx/fetch, else back to `next`."""
    form = PreferencesForm(request.POST)
    if not form.is_valid():
        errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
        return HttpResponseBadRequest(" ".join(errors) or _("Invalid preferences."),
                                      content_type="text/plain; charset=utf-8")
    language = form.cleaned_data["language"] or None
    user_update_preferences(user=request.user, language=language, theme=form.cleaned_data["theme"] or None)
    response = HttpResponse(status=204) if _wants_fragment(request) else redirect(_safe_next(request) or "core:home")
    if language:
        # anonymous pages (after logout) keep the language
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME, language, max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH, domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE, httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
    return response


def _profile_initial(tenant) -> dict:
    return {
        "name": tenant.name, "logo": tenant.logo, "primary_color": tenant.primary_color,
        "accent_color": tenant.accent_color, "timezone": tenant.timezone, "language": tenant.language,
        "policies": tenant.policies,
    }


@login_required
def company(request):
    """The company profile: name, logo, brand colours, time zone, language, policies."""
    if not user_can(request.user, "company.manage"):
        raise PermissionDenied(_("Only an Admin can change the company profile."))
    tenant = request.tenant
    if request.method == "POST":
        form = CompanyProfileForm(request.POST, request.FILES, initial=_profile_initial(tenant))
        if form.is_valid():
            try:
                tenant_update_profile(tenant=tenant, **form.profile_changes())
            except ValidationError as exc:
                tenant.refresh_from_db()
                for field, errors in getattr(exc, "error_dict", {None: exc.error_list}).items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, _("Company profile saved."))
                return redirect("core:company")
    else:
        form = CompanyProfileForm(initial=_profile_initial(tenant))
    return render(request, "core/company.html", {"form": form, "tenant": tenant},
                  status=400 if form.is_bound else 200)
