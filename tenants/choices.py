from django.db import models
from django.utils.translation import gettext_lazy as _


class TenantStatus(models.TextChoices):
    TRIAL = "trial", _("Trial")
    ACTIVE = "active", _("Active")
    PAST_DUE = "past_due", _("Past due")
    SUSPENDED = "suspended", _("Suspended")
    CANCELED = "canceled", _("Canceled")


BLOCKED_STATUSES = {TenantStatus.SUSPENDED, TenantStatus.CANCELED}
