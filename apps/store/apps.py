from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StoreConfig(AppConfig):
    name = "apps.store"
    label = "store"
    verbose_name = _("Store")

    def ready(self):
        from apps.accounts.roles import Role, register_capability
        from apps.core.navigation import NavItem, register_nav

        register_capability("store.sell", {Role.SUPERVISOR, Role.AGENT})
        register_capability("store.manage", {Role.SUPERVISOR})
        register_nav(NavItem("sales", _("Sales"), "store:orders", icon="receipt", capability="store.sell", order=20))
        register_nav(NavItem("products", _("Products"), "store:products", icon="package", capability="store.manage",
                             order=25))
        register_nav(NavItem("customers", _("Customers"), "store:customers", icon="users", capability="store.sell",
                             order=26))
        register_nav(NavItem("store_settings", _("Store settings"), "store:settings", icon="store",
                             capability="store.manage", section="settings", order=30))
        from apps.inbox.turns import register_turn_handler

        from . import tools  # noqa: F401 - the assistant's ordering tools
        from .services.jobs import RatingTurnHandler

        # a "5" answering the rating question is the store's, before the assistant sees it
        register_turn_handler(RatingTurnHandler(), first=True)
        from apps.core.management.commands.seed_demo import demo_seeders

        from .demo import seed_demo_store

        if seed_demo_store not in demo_seeders:
            demo_seeders.append(seed_demo_store)
