from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

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
    return render(request, "core/home.html")
