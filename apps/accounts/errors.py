from django.utils.translation import gettext_lazy as _


class AccountError(Exception):
    messages = {
        "email_taken": _("A user with this email already exists."),
        "invitation_invalid": _("This invitation link is invalid."),
        "invitation_expired": _("This invitation has expired. Ask an admin for a new one."),
        "invitation_used": _("This invitation has already been used."),
        "last_admin": _("The company must keep at least one active Admin."),
        "user_limit": _("Your plan's user limit has been reached."),
        "self_deactivate": _("You cannot deactivate your own account."),
        "team_name_taken": _("A team with this name already exists."),
    }

    def __init__(self, code: str):
        self.code = code
        self.message = self.messages[code]
        super().__init__(f"{code}: {self.message}")
