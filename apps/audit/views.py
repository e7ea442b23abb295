from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from apps.accounts.roles import user_can

from .forms import AuditFilterForm
from .selectors import audit_page


@login_required
def audit_list(request):
    if not user_can(request.user, "audit.view"):
        raise PermissionDenied
    form = AuditFilterForm(request.GET or None)
    if form.is_bound:
        form.is_valid()
    page, rows = audit_page(filters=form.to_filters(), page=request.GET.get("page") or 1)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "audit/list.html", {"form": form, "page": page, "rows": rows,
                                               "query": query.urlencode()})
