# Assistants, model providers, decisions and daily usage live in tenant schemas only; the Django
# admin serves the SaaS owner on the public schema, where those tables do not exist, so nothing is
# registered here. The owner sees AI usage through billing.TenantUsageDaily (the public roll-up).
