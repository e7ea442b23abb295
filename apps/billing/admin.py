from django.contrib import admin
from unfold.admin import ModelAdmin

from .models import Plan


@admin.register(Plan)
class PlanAdmin(ModelAdmin):
    list_display = ["name", "monthly_price", "max_users", "max_connections", "max_assistants",
                    "ai_turns_per_month", "is_public", "is_default"]
    prepopulated_fields = {"slug": ["name"]}
