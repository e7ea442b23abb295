from django.contrib.auth import views as auth_views
from django.shortcuts import render
from django.utils.translation import gettext as _

from .forms import EmailLoginForm


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
