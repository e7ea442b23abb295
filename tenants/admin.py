"""SaaS-owner admin for tenants (public domain only: saas.urls_public mounts the admin)."""
from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminColorInputWidget

from apps.accounts.errors import AccountError
from apps.core.urls_util import tenant_absolute_url

from .choices import TenantStatus
from .errors import TenantError
from .forms import TenantAddForm
from .models import Domain, Tenant
from .services import provision_tenant, tenant_set_status

STATUS_BADGES = {
    TenantStatus.TRIAL: "info",
    TenantStatus.ACTIVE: "success",
    TenantStatus.PAST_DUE: "warning",
    TenantStatus.SUSPENDED: "danger",
    TenantStatus.CANCELED: "danger",
}


class DomainInline(TabularInline):
    model = Domain
    fields = ["domain", "is_primary"]
    extra = 0
    tab = False


@admin.register(Tenant)
class TenantAdmin(ModelAdmin):
    list_display = ["name", "slug_display", "status_badge", "plan", "domain_link", "created_at"]
    list_display_links = ["name"]
    list_filter = ["status", "plan"]
    search_fields = ["name", "schema_name", "domains__domain"]
    list_select_related = ["plan"]
    ordering = ["name"]
    readonly_fields = ["slug_display", "created_at"]
    actions = ["suspend_tenants", "reactivate_tenants"]
    inlines = [DomainInline]
    add_fieldsets = (
        (None, {"fields": ["name", "slug", "plan"]}),
        (_("Owner (the company's first Admin)"), {"fields": ["owner_email", "owner_name", "owner_password"]}),
    )
    fieldsets = (
        (None, {
            "fields": ["name", "slug_display", "status", "status_reason", "plan", "created_at"],
            "description": _("Companies are never deleted here: their schema and data stay. To stop "
                             "access, set the status to Suspended or Canceled (reversible at any time)."),
        }),
        (_("Branding"), {"fields": ["logo", "primary_color", "accent_color"]}),
        (_("Locale"), {"fields": ["language", "timezone"]}),
        (_("Policies"), {"fields": ["policies"]}),
    )

    # --- list -------------------------------------------------------------------------------------
    def get_queryset(self, request):
        # the public tenant routes the SaaS-owner domain itself; suspending it would lock this admin
        return (
            super().get_queryset(request)
            .exclude(schema_name="public")
            .prefetch_related(Prefetch("domains", queryset=Domain.objects.order_by("-is_primary", "id")))
        )

    @display(description=_("Address"), ordering="schema_name")
    def slug_display(self, obj: Tenant) -> str:
        return obj.schema_name

    @display(description=_("Status"), ordering="status", label={k.value: v for k, v in STATUS_BADGES.items()})
    def status_badge(self, obj: Tenant):
        return obj.status, obj.get_status_display()

    @display(description=_("Primary domain"))
    def domain_link(self, obj: Tenant):
        domain = next((d for d in obj.domains.all() if d.is_primary), None)
        if domain is None:
            return "-"
        return format_html('<a href="{}" target="_blank" rel="noopener" class="text-primary-600 '
                           'dark:text-primary-500 underline">{}</a>', tenant_absolute_url(obj), domain.domain)

    # --- actions: status changes go through the service; nothing is deleted -------------------------
    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request, obj=None):
        return False

    def _set_status(self, request, queryset, status: str, reason: str, message: str):
        count = 0
        for tenant in queryset:
            tenant_set_status(tenant=tenant, status=status, reason=reason)
            count += 1
        self.message_user(request, message % {"count": count}, messages.SUCCESS)

    @action(description=_("Suspend selected companies (blocks access, keeps data)"))
    def suspend_tenants(self, request, queryset):
        self._set_status(
            request, queryset, TenantStatus.SUSPENDED, str(_("Suspended by the SaaS owner")),
            ngettext("%(count)d company suspended; its data is kept.",
                     "%(count)d companies suspended; their data is kept.", queryset.count()),
        )

    @action(description=_("Reactivate selected companies"))
    def reactivate_tenants(self, request, queryset):
        self._set_status(
            request, queryset, TenantStatus.ACTIVE, "",
            ngettext("%(count)d company reactivated.", "%(count)d companies reactivated.", queryset.count()),
        )

    # --- change: the slug (schema name) never changes; status goes through the service -------------
    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in ("primary_color", "accent_color"):
            kwargs["widget"] = UnfoldAdminColorInputWidget
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change and "status" in form.changed_data:
            new_status, reason = obj.status, obj.status_reason
            obj.status = form.initial["status"]
            super().save_model(request, obj, form, change)
            tenant_set_status(tenant=obj, status=new_status, reason=reason)
        else:
            super().save_model(request, obj, form, change)

    # --- add: provisioning (schema clone + domain + owner) through the service ---------------------
    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = TenantAddForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            kwargs = form.provision_kwargs()
            generated = not form.cleaned_data.get("owner_password")
            try:
                tenant = provision_tenant(**kwargs)
            except TenantError as err:
                form.add_tenant_error(err)
            except AccountError as err:
                form.add_error("owner_email", err.message)
            else:
                self.log_addition(request, tenant, [{"added": {}}])
                return self._provisioned_response(request, tenant, kwargs, generated)

        adminform = helpers.AdminForm(form, list(self.add_fieldsets), {}, model_admin=self)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Add company"),
            "subtitle": None,
            "adminform": adminform,
            "object_id": None,
            "original": None,
            "is_popup": False,
            "to_field": None,
            "media": self.media + adminform.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        return self.render_change_form(request, context, add=True, change=False, form_url=form_url)

    def _provisioned_response(self, request, tenant: Tenant, kwargs: dict, generated: bool):
        change_url = reverse("admin:tenants_tenant_change", args=[tenant.pk])
        if not generated:
            self.message_user(request, _("Company %(name)s created at %(domain)s.") % {
                "name": tenant.name, "domain": tenant.get_primary_domain().domain}, messages.SUCCESS)
            if "_addanother" in request.POST:
                return HttpResponseRedirect(reverse("admin:tenants_tenant_add"))
            return HttpResponseRedirect(change_url)
        # A generated password is shown once, in this response only (never stored in a cookie).
        messages.success(request, _("Company %(name)s created. The owner's password is shown only now: "
                                    "copy it and send it to %(email)s safely.") % {
            "name": tenant.name, "email": kwargs["owner_email"]})
        context = {
            **self.admin_site.each_context(request),
            "title": _("Company created"),
            "opts": self.model._meta,
            "tenant": tenant,
            "owner_email": kwargs["owner_email"],
            "owner_password": kwargs["owner_password"],
            "login_url": tenant_absolute_url(tenant, "/accounts/login/"),
            "change_url": change_url,
            "add_url": reverse("admin:tenants_tenant_add"),
        }
        return TemplateResponse(request, "tenants/admin/tenant_created.html", context)


@admin.register(Domain)
class DomainAdmin(ModelAdmin):
    """Every host name routed to a company. Domains are added on the company's page."""

    list_display = ["domain", "tenant", "is_primary"]
    list_select_related = ["tenant"]
    search_fields = ["domain", "tenant__name", "tenant__schema_name"]
    list_filter = ["is_primary"]

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(tenant__schema_name="public")

    def has_add_permission(self, request):
        return False
