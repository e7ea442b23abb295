"""pgvector lives in the public schema, so every tenant schema can use it. Accent folding for
full-text search is a plain SQL function (the embedded PostgreSQL ships no ``unaccent``
extension): ``public.fold_accents(text)`` is applied to documents and questions alike before
``to_tsvector`` / ``to_tsquery`` with the tenant's language (portuguese, english, spanish)."""
from django.db import migrations

ACCENTED = "áàâãäåéèêëíìîïóòôõöúùûüçñýÿÁÀÂÃÄÅÉÈÊËÍÌÎÏÓÒÔÕÖÚÙÛÜÇÑÝ"
PLAIN = "aaaaaaeeeeiiiiooooouuuucnyyAAAAAAEEEEIIIIOOOOOUUUUCNY"
assert len(ACCENTED) == len(PLAIN)

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS vector SCHEMA public",
    f"CREATE OR REPLACE FUNCTION public.fold_accents(text) RETURNS text LANGUAGE sql IMMUTABLE "
    f"STRICT PARALLEL SAFE AS $$ SELECT translate($1, '{ACCENTED}', '{PLAIN}') $$",
]
BACKWARD = ["DROP FUNCTION IF EXISTS public.fold_accents(text)"]


class Migration(migrations.Migration):
    dependencies = [("tenants", "0003_webhookroute")]

    operations = [migrations.RunSQL(sql=FORWARD, reverse_sql=BACKWARD)]
