#!/bin/sh
# Container entrypoint. With RUN_MIGRATIONS=1 (the web service) it first migrates the public
# schema, the template schema and every tenant (migrate_schemas), compiles the gettext catalogs
# and collects static files into the volume nginx serves; then it runs the service's command.
# Worker and beat skip the preparation and start right away.
set -eu

if [ "${RUN_MIGRATIONS:-0}" = "1" ]; then
    python manage.py migrate_schemas --noinput
    python manage.py compile_catalogs
    python manage.py collectstatic --noinput
fi

exec "$@"
