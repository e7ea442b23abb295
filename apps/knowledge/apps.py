from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KnowledgeConfig(AppConfig):
    name = "apps.knowledge"
    label = "knowledge"
    verbose_name = _("Knowledge base")

    def ready(self):
        from apps.accounts.roles import Role, register_capability
        from apps.core.navigation import NavItem, register_nav

        register_capability("knowledge.manage", {Role.SUPERVISOR})
        register_nav(NavItem("knowledge", _("Knowledge base"), "knowledge:index", icon="book-open",
                             capability="knowledge.manage", section="main", order=40))
