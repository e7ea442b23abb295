from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"
    verbose_name = _("Audit")

    def ready(self):
        from apps.core.navigation import NavItem, register_nav

        from . import receivers  # noqa: F401 - connects the signal receivers
        from .registry import register_core_models

        register_core_models()
        register_nav(NavItem("audit", _("Audit log"), "audit:list", icon="shield", capability="audit.view",
                             section="settings", order=90))
