from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InboxConfig(AppConfig):
    name = "apps.inbox"
    label = "inbox"
    verbose_name = _("Inbox")

    def ready(self):
        from apps.accounts.roles import Role, register_capability
        from apps.core.navigation import NavItem, register_nav

        register_capability("canned.manage", {Role.SUPERVISOR})
        # visible to everyone who may reply (the page itself also admits view_all)
        register_nav(NavItem("inbox", _("Conversations"), "inbox:index", icon="message-circle",
                             capability="conversations.reply", order=10))
        register_nav(NavItem("canned", _("Canned replies"), "inbox:canned", icon="message-square-quote",
                             capability="canned.manage", section="settings", order=40))
