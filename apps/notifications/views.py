"""Dashboard pages of the bell: the full list, the dropdown fragment, the unread count, mark read."""
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from .models import Notification
from .selectors import notification_latest, notification_list, unread_count
from .services import notification_mark_read

PAGE_SIZE = 30


def _parse_ids(values) -> list[int]:
    return [int(v) for v in values if str(v).isdigit()]


@login_required
@require_GET
def notification_list_page(request):
    unread_only = request.GET.get("unread") == "1"
    page = Paginator(notification_list(user=request.user, unread_only=unread_only), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "notifications/list.html", {
        "page_obj": page, "unread_only": unread_only, "unread_count": unread_count(request.user),
    })


def _dropdown(request):
    return render(request, "notifications/partials/dropdown.html", {
        "notifications": notification_latest(user=request.user, limit=10),
        "unread_count": unread_count(request.user),
    })


@login_required
@require_GET
@never_cache
def notification_dropdown(request):
    return _dropdown(request)


@login_required
@require_GET
@never_cache
def notification_count(request):
    return JsonResponse({"unread_count": unread_count(request.user)})


@login_required
@require_POST
def notification_read(request):
    """Form/htmx: ``ids`` (repeatable) or ``all=1``. The dropdown gets its fragment back; a page
    form is redirected to ``next`` (this site only) or the list."""
    mark_all = request.POST.get("all") in ("1", "true", "on")
    notification_mark_read(user=request.user, ids=_parse_ids(request.POST.getlist("ids")), all=mark_all)
    if request.POST.get("source") == "dropdown":
        response = _dropdown(request)
    else:
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
            target = reverse("notifications:list")
        response = redirect(target)
    response["HX-Trigger"] = '{"notifications-count": {"count": %d}}' % unread_count(request.user)
    return response


@login_required
@require_POST
def notification_open(request, pk: int):
    """Clicking a notification marks it read and follows its link."""
    notification = get_object_or_404(Notification, pk=pk, recipient=request.user)
    notification_mark_read(user=request.user, ids=[notification.pk])
    return redirect(notification.link or reverse("notifications:list"))
