# Notification lives in tenant schemas only; the Django admin serves the SaaS owner on the public
# schema, where the table does not exist, so nothing is registered here.
