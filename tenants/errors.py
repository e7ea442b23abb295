from django.utils.translation import gettext_lazy as _


class TenantError(Exception):
    """A domain error with a stable code and a translated message for the edge to show."""

    messages = {
        "slug_invalid": _(
            "The address must be 3 to 30 characters: lowercase letters, digits and hyphens, "
            "not starting or ending with a hyphen."
        ),
        "slug_reserved": _("This address is reserved. Choose another one."),
        "slug_taken": _("A company with this address already exists."),
        "domain_taken": _("This domain is already in use."),
        "template_missing": _("The tenant template schema is missing; run migrate_schemas first."),
    }

    def __init__(self, code: str):
        self.code = code
        self.message = self.messages[code]
        super().__init__(f"{code}: {self.message}")
