"""The Visão Geral page (also the tenant's home for users who may see it): KPI cards, charts, the
hour x weekday heatmap, top products and the conversation widgets, for the filters in the query
string. An htmx request gets the content area only (the filters form swaps it in place)."""
from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.accounts.permissions import capability_required

from . import presenters
from .forms import OverviewFilterForm
from .periods import tenant_zone
from .selectors import overview as overview_data


def overview_response(request):
    """Render the page (or its content area for htmx) for ``request.GET``; bad filters -> 400
    with the form's errors, never a 500."""
    form = OverviewFilterForm(request.GET, tz=tenant_zone())
    context = {"form": form, "data": None}
    status = 200
    if form.is_valid():
        period = form.period_obj()
        data = overview_data(period=period, channel=form.chosen_channel(), granularity=form.chosen_granularity(period),
                             now=form.now)
        context.update(data=data, view=presenters.page(data))
    else:
        status = 400
    template = "analytics/partials/content.html" if request.htmx else "analytics/overview.html"
    return render(request, template, context, status=status)


@require_GET
@capability_required("analytics.view")
def overview(request):
    return overview_response(request)
