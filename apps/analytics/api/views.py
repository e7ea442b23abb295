"""GET /api/v1/analytics/overview: the Visão Geral's numbers as JSON (money as strings with two
decimals, percentages as strings with one; times in the tenant's time zone)."""
from __future__ import annotations

from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.roles import user_can
from apps.store.models import Channel

from ..forms import OverviewFilterForm
from ..periods import GRANULARITIES, PERIODS, tenant_zone
from ..selectors import overview


class AnalyticsAccess(BasePermission):
    message = "Only Admins, Supervisors and Analysts may see the analytics."

    def has_permission(self, request, view):
        return user_can(request.user, "analytics.view")


def _plain(value):
    """Decimals as strings (never floats), dates as ISO strings, containers recursively."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def serialize(data: dict) -> dict:
    period, tz = data["period"], data["period"].tz
    cells = data["heatmap"]["cells"]
    return _plain({
        "period": {
            "key": period.key, "first_day": period.first_day, "last_day": period.last_day,
            "start": period.current.start.astimezone(tz), "end": period.current.end.astimezone(tz),
            "previous_start": period.previous.start.astimezone(tz),
            "previous_end": period.previous.end.astimezone(tz),
        },
        "timezone": data["timezone"],
        "channel": data["channel"] or None,
        "granularity": data["granularity"],
        "has_sales": data["has_sales"],
        "revenue_to_date": data["revenue_cards"],
        "kpis": data["kpis"],
        "revenue_over_time": data["series"],
        "orders_by_channel": data["channels"],
        "payment_methods": data["payments"],
        "sales_by_category": data["categories"],
        "top_products_by_revenue": data["top_products_revenue"],
        "top_products_by_quantity": data["top_products_quantity"],
        # 7 rows (Monday first) x 24 hours of orders
        "orders_heatmap": [[cells.get((dow, hour), 0) for hour in range(24)] for dow in range(1, 8)],
        "conversations": data["conversations"],
    })


PARAMETERS = [
    OpenApiParameter("period", str, enum=[key for key, _ in PERIODS], description="Default: 30d"),
    OpenApiParameter("start", OpenApiTypes.DATE, description="First day of a custom range (period=custom)"),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last day of a custom range (period=custom)"),
    OpenApiParameter("channel", str, enum=Channel.values, description="Only this sales channel"),
    OpenApiParameter("granularity", str, enum=[key for key, _ in GRANULARITIES],
                     description="Buckets of revenue_over_time (default: by the period's length)"),
]


class OverviewApi(APIView):
    permission_classes = [IsAuthenticated, AnalyticsAccess]

    @extend_schema(parameters=PARAMETERS, responses={200: OpenApiTypes.OBJECT,
                                                     400: OpenApiResponse(description="Invalid filters")})
    def get(self, request):
        form = OverviewFilterForm(request.query_params, tz=tenant_zone())
        if not form.is_valid():
            errors = {field: [str(e) for e in messages] for field, messages in form.errors.items()}
            detail = [message for messages in errors.values() for message in messages]
            return Response({"detail": detail, "code": "invalid", "errors": errors},
                            status=status.HTTP_400_BAD_REQUEST)
        period = form.period_obj()
        data = overview(period=period, channel=form.chosen_channel(), granularity=form.chosen_granularity(period),
                        now=form.now)
        return Response(serialize(data))
