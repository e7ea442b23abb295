from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self):
        from .navigation import NavItem, register_nav

        register_nav(NavItem("home", _("Home"), "core:home", icon="layout-dashboard", order=0,
                             hidden_for="analytics.view"))  # their home is the Overview
        register_nav(NavItem("company", _("Company"), "core:company", icon="building-2",
                             capability="company.manage", section="settings", order=10))
