from django.contrib.auth.decorators import login_required
from django.http import HttpResponse


@login_required
def orders(request):
    return HttpResponse("")


@login_required
def products(request):
    return HttpResponse("")


@login_required
def customers(request):
    return HttpResponse("")


@login_required
def store_settings(request):
    return HttpResponse("")
