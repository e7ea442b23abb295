from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self):
        from apps.core.navigation import NavItem, register_nav

        register_nav(NavItem("team", _("Team"), "accounts:team", icon="users", capability="team.manage",
                             section="settings", order=20))
        register_nav(NavItem("profile", _("My profile"), "accounts:profile", icon="user", section="settings",
                             order=30))
