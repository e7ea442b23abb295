from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AgentsConfig(AppConfig):
    name = "apps.agents"
    label = "agents"
    verbose_name = _("AI assistants")

    def ready(self):
        from apps.accounts.roles import Role, register_capability
        from apps.core.navigation import NavItem, register_nav
        from apps.inbox.turns import register_resume_hook, register_turn_handler

        from . import tools  # noqa: F401 - registers the built-in tools
        from .pipeline import AssistantTurnHandler

        register_capability("assistants.manage", {Role.SUPERVISOR})
        register_nav(NavItem("assistants", _("AI assistants"), "agents:index", icon="bot",
                             capability="assistants.manage", section="main", order=35))
        register_nav(NavItem("ai_activity", _("AI activity"), "agents:activity", icon="activity",
                             capability="assistants.manage", section="main", order=36))
        register_turn_handler(AssistantTurnHandler())

        from .services.housekeeping import on_bot_returned

        register_resume_hook(on_bot_returned)

        from apps.core.management.commands.seed_demo import demo_seeders

        from .demo import seed_demo_assistant

        if seed_demo_assistant not in demo_seeders:
            demo_seeders.append(seed_demo_assistant)
