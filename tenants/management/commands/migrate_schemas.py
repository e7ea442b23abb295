"""migrate_schemas that also keeps the template schema (TENANT_BASE_SCHEMA) migrated.

The template is migrated right after public, so new tenants are cloned from an up-to-date schema.
It holds no users and no sessions: only what migrations create (content types, permissions).
Tenants then migrate in parallel (multiprocessing executor) unless --executor says otherwise.
"""
import os

from django.conf import settings
from django.db import connection
from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand
from django_tenants.utils import get_public_schema_name, schema_exists


class Command(MigrateSchemasCommand):
    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.set_defaults(executor=os.environ.get("EXECUTOR", "multiprocessing"))

    def handle(self, *args, **options):
        public = get_public_schema_name()
        schema_name = options.get("schema_name")
        if schema_name and schema_name != public:  # one tenant
            return super().handle(*args, **options)
        shared_only = options.get("shared") or schema_name == public
        tenants_only = options.get("tenant") and not shared_only
        base = {**options, "schema_name": None}
        if not tenants_only:
            super().handle(*args, **{**base, "shared": True, "tenant": False})
        if not shared_only:
            template = settings.TENANT_BASE_SCHEMA
            if not schema_exists(template):
                with connection.cursor() as cursor:
                    cursor.execute(f'CREATE SCHEMA "{template}"')
            super().handle(
                *args,
                **{**base, "shared": False, "tenant": True, "schema_name": template, "executor": "standard"},
            )
            super().handle(*args, **{**base, "shared": False, "tenant": True})
            # capture the template's DDL now, so the next provisioning replays it (tenants.snapshot)
            from tenants.snapshot import snapshot_for_current_template

            connection.set_schema_to_public()
            snapshot_for_current_template()
