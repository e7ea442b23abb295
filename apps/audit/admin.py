# ActionLog lives in tenant schemas only; the SaaS-owner admin (public schema) has no table for it,
# so it is deliberately not registered here. Tenants read it on their own audit page (audit:list).
