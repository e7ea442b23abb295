# Documents and chunks live in tenant schemas only; the Django admin serves the SaaS owner on the
# public schema, where those tables do not exist, so nothing is registered here.
