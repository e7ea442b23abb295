"""Provisioning benchmark: cloning the template schema vs running every migration for a tenant.

    DJANGO_SETTINGS_MODULE=saas.settings.test python bench/provision.py [--clones 20] [--migrates 5]

Uses its own embedded PostgreSQL + Redis under var/bench and a throwaway database ("bench") that
is recreated at the start and dropped at the end, so it never touches dev or test data. Migrates
public + the template once, then times, per tenant, everything a signup costs (tenant row, domain,
schema, owner user):
  clone   -> tenants.services.provision_tenant (replays the migrated template's captured DDL and
             copies its rows; see tenants/snapshot.py)
  fallback-> the same with no snapshot: django-tenants' clone_schema() function
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


def provision_by_clone_function(*, name: str, slug: str, owner_email: str, owner_password: str):
    """The fallback path (no pg_dump): django-tenants' clone_schema() SQL function."""
    from tenants.models import TemplateSnapshot
    from tenants.services import provision_tenant

    TemplateSnapshot.objects.all().delete()  # no snapshot -> provision_tenant falls back to cloning
    return provision_tenant(name=name, slug=slug, owner_email=owner_email, owner_password=owner_password)


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
    parser.add_argument("--fallbacks", type=int, default=5, help="tenants through the clone_schema() fallback")
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

        def series(label: str, func, count: int, prefix: str) -> list[float]:
            times = []
            for i in range(count):
                times.append(timed(func, name=f"{prefix} {i}", slug=f"{prefix.lower()}-{i:03d}",
                                   owner_email=f"owner{i}@{prefix.lower()}.test", owner_password="bench-password-1"))
                print(f"{label} {i + 1:>3}/{count}: {times[-1]:.3f} s", flush=True)
            return times

        clone_times = series("clone  ", provision_tenant, args.clones, "Clone")
        migrate_times = series("migrate", provision_by_migrating, args.migrates, "Migrated")
        fallback_times = series("clone_schema() fallback", provision_by_clone_function, args.fallbacks, "Fallback")
        slugs = ["tenant_template", "clone-000", "migrated-000"] + (["fallback-000"] if fallback_times else [])
        print("schema shape (tables, columns, indexes, constraints):", {slug: schema_shape(slug) for slug in slugs})

        clone_median = statistics.median(clone_times)
        migrate_median = statistics.median(migrate_times)
        ratio = migrate_median / clone_median
        print(f"clone median   {clone_median:.3f} s  (min {min(clone_times):.3f}, max {max(clone_times):.3f})")
        print(f"migrate median {migrate_median:.3f} s  (min {min(migrate_times):.3f}, "
              f"max {max(migrate_times):.3f})")
        print(f"cloning is {ratio:.1f}x faster than migrating")
        if fallback_times:
            fallback_median = statistics.median(fallback_times)
            print(f"clone_schema() fallback median {fallback_median:.3f} s: "
                  f"{migrate_median / fallback_median:.1f}x faster than migrating")
        result = {
            "clone_median_s": round(clone_median, 4),
            "migrate_median_s": round(migrate_median, 4),
            "ratio": round(ratio, 1),
            "clones": len(clone_times),
            "migrates": len(migrate_times),
            "template_tables": tables,
        }
        if fallback_times:
            result["clone_function_median_s"] = round(fallback_median, 4)
    finally:
        drop_database(admin_url)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
