"""The public site: landing page with pricing and a "Sign in" box that sends people to their company."""
from django.conf import settings
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from apps.billing.selectors import public_plans

from .forms_public import CompanySignInForm
from .urls_util import tenant_absolute_url


def _render_landing(request, form, status=200):
    context = {"form": form, "plans": public_plans(), "base_domain": settings.BASE_DOMAIN}
    return render(request, "core/landing.html", context, status=status)


@require_http_methods(["GET", "HEAD"])
def landing(request):
    return _render_landing(request, CompanySignInForm())


@require_http_methods(["POST"])
def company_sign_in(request):
    form = CompanySignInForm(request.POST)
    if not form.is_valid():
        return _render_landing(request, form)
    return HttpResponseRedirect(tenant_absolute_url(form.cleaned_data["company"], "/accounts/login/"))
