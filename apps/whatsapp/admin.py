# Connections, inbound events and templates live in tenant schemas only; the Django admin serves the
# SaaS owner on the public schema, where those tables do not exist, so nothing is registered here.
# (The public webhook routing table, tenants.WebhookRoute, belongs to the tenants app.)
