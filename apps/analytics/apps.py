from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "apps.analytics"
    label = "analytics"
    verbose_name = _("Analytics")

    def ready(self):
        from apps.accounts.roles import Role, register_capability
        from apps.core.navigation import NavItem, register_nav

        register_capability("analytics.view", {Role.SUPERVISOR, Role.ANALYST})
        # "/" shows the Overview to these users (apps.core.views.home), so the entry points there
        register_nav(NavItem("overview", _("Overview"), "core:home", icon="layout-dashboard",
                             capability="analytics.view", order=1))
