# Products, orders, customers and the rest of the store live in tenant schemas only; the Django
# admin serves the SaaS owner on the public schema, where those tables do not exist, so nothing is
# registered here. Tenants manage their store in the dashboard (/store/).
