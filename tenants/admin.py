from django.contrib import admin
from unfold.admin import ModelAdmin, TabularInline

from .models import Domain, Tenant


class DomainInline(TabularInline):
    model = Domain
    extra = 0


@admin.register(Tenant)
class TenantAdmin(ModelAdmin):
    list_display = ["name", "schema_name", "status", "plan", "created_at"]
    list_filter = ["status", "plan"]
    search_fields = ["name", "schema_name", "domains__domain"]
    inlines = [DomainInline]
