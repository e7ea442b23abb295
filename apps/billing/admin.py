from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.decorators import display

from apps.core.templatetags.money import format_money

from .models import Plan


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
