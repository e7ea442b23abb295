from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import RangeDateFilter, RelatedDropdownFilter
from unfold.decorators import display

from apps.core.templatetags.money import format_money

from .models import Plan, TenantUsageDaily


@admin.register(Plan)
class PlanAdmin(ModelAdmin):
    list_display = ["name", "price", "max_users", "max_connections", "max_assistants",
                    "ai_turns_per_month", "is_public", "is_default", "tenant_count"]
    list_filter = ["is_public", "is_default"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    fieldsets = (
        (None, {"fields": ["name", "slug", "description", "monthly_price", "order", "is_public", "is_default"]}),
        (_("Limits (empty means unlimited)"), {"fields": [
            "max_users", "max_connections", "max_assistants", "ai_turns_per_month",
            "knowledge_chars_per_document", "retention_days",
        ]}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(tenant_count=Count("tenant"))

    @display(description=_("Monthly price"), ordering="monthly_price")
    def price(self, obj: Plan) -> str:
        return format_money(obj.monthly_price)

    @display(description=_("Companies"), ordering="tenant_count")
    def tenant_count(self, obj: Plan) -> int:
        return obj.tenant_count


@admin.register(TenantUsageDaily)
class TenantUsageDailyAdmin(ModelAdmin):
    """AI usage per company and day, rolled up from each tenant's schema (task agents.usage_rollup).
    Read-only: the numbers are copies; the tenant's own counters are the source."""

    list_display = ["date", "tenant", "plan_name", "ai_turns", "prompt_tokens", "completion_tokens", "cost_display",
                    "handoffs", "updated_at"]
    list_display_links = ["date", "tenant"]
    list_filter = [("date", RangeDateFilter), ("tenant", RelatedDropdownFilter),
                   ("tenant__plan", RelatedDropdownFilter)]
    list_filter_submit = True  # the date range needs an "apply" button
    list_select_related = ["tenant", "tenant__plan"]
    search_fields = ["tenant__name", "tenant__schema_name"]
    date_hierarchy = "date"
    ordering = ["-date", "tenant__name"]
    fields = ["tenant", "date", "ai_turns", "prompt_tokens", "completion_tokens", "cost", "handoffs", "updated_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @display(description=_("Plan"), ordering="tenant__plan__name")
    def plan_name(self, obj: TenantUsageDaily) -> str:
        return obj.tenant.plan.name if obj.tenant.plan_id else "—"

    @display(description=_("Estimated cost (US$)"), ordering="cost")
    def cost_display(self, obj: TenantUsageDaily) -> str:
        return f"US$ {obj.cost:,.4f}"
