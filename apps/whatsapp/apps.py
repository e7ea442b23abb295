from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WhatsappConfig(AppConfig):
    name = "apps.whatsapp"
    label = "whatsapp"
    verbose_name = _("WhatsApp")

    def ready(self):
        from apps.accounts.roles import register_capability
        from apps.core.management.commands.seed_demo import demo_seeders
        from apps.core.navigation import NavItem, register_nav

        from .demo import seed_demo_sandbox

        register_capability("connections.manage", [])  # Admin only (Admin has every capability)
        register_nav(NavItem("simulator", _("Simulator"), "whatsapp:simulator", icon="flask-conical",
                             capability="conversations.reply", section="main", order=60))
        register_nav(NavItem("connections", _("Connections"), "whatsapp:connections", icon="smartphone",
                             capability="connections.manage", section="settings", order=15))
        if seed_demo_sandbox not in demo_seeders:
            demo_seeders.append(seed_demo_sandbox)
