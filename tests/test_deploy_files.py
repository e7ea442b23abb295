"""The production files (no Docker engine here): docker-compose.yml, Dockerfile, nginx, entrypoint
and .env.example agree with the code and the settings they configure."""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat")
VAR_RE = re.compile(r"\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def settings_env_vars() -> set[str]:
    """Every variable saas/settings reads: env("X"), env.bool("X", ...), os.environ["X"] / .get("X")."""
    names = set()
    for path in (ROOT / "saas" / "settings").glob("*.py"):
        text = path.read_text()
        names |= set(re.findall(r"""\benv(?:\.\w+)?\(\s*["']([A-Z0-9_]+)["']""", text))
        names |= set(re.findall(r"""os\.environ(?:\.get|\.setdefault)?[\[(]\s*["']([A-Z0-9_]+)["']""", text))
        # prod checks its essentials in a loop: for _name in ("SECRET_KEY", ...)
        for group in re.findall(r"for \w+ in \(([^)]*)\)", text):
            names |= set(re.findall(r"""["']([A-Z0-9_]+)["']""", group))
    return names


def prod_required_vars() -> set[str]:
    text = (ROOT / "saas" / "settings" / "prod.py").read_text()
    loop = re.search(r"for _name in \(([^)]*)\):\s*\n\s*if not os\.environ\.get\(_name\)", text)
    assert loop, "prod.py no longer lists its required variables the way this test reads them"
    return set(re.findall(r'"([A-Z0-9_]+)"', loop.group(1)))


def env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def test_services_exist(compose):
    assert {"postgres", "redis", "web", "worker", "beat", "nginx", "evolution-api"} <= set(compose["services"])
    assert compose["services"]["postgres"]["image"].startswith("pgvector/pgvector:pg17")
    assert compose["services"]["evolution-api"]["profiles"] == ["whatsapp"]
    assert all("profiles" not in compose["services"][name] for name in (*APP_SERVICES, "postgres", "redis",
                                                                        "nginx"))


def test_commands_reference_real_modules(compose):
    services = compose["services"]
    web = " ".join(services["web"]["command"])
    assert web.startswith("uvicorn saas.asgi:application")
    module, attr = "saas.asgi:application".split(":")
    source = (ROOT / (module.replace(".", "/") + ".py")).read_text()
    assert re.search(rf"^{attr}\s*=", source, re.M)

    assert " ".join(services["worker"]["command"]).startswith("celery -A saas worker")
    beat = " ".join(services["beat"]["command"])
    assert beat.startswith("celery -A saas beat")
    scheduler = beat.split("--scheduler ")[1].split()[0]
    module, attr = scheduler.split(":")
    assert hasattr(importlib.import_module(module), attr)
    assert hasattr(importlib.import_module("saas"), "celery_app")  # what `-A saas` loads


def test_app_services_run_prod_settings_with_what_they_read(compose):
    read = settings_env_vars()
    for name in APP_SERVICES:
        environment = compose["services"][name]["environment"]
        assert environment["DJANGO_SETTINGS_MODULE"] == "saas.settings.prod", name
        interpolated = {m.group(1) for value in environment.values() for m in VAR_RE.finditer(str(value))}
        unread = interpolated - read
        assert not unread, f"{name} passes variables no setting reads: {sorted(unread)}"
        assert prod_required_vars() <= set(environment), f"{name} lacks a variable prod requires"
        for required in prod_required_vars():
            assert ":?" in environment[required], f"{required} should fail fast when missing from .env"


def test_every_variable_without_a_default_is_in_env_example(compose):
    text = (ROOT / "docker-compose.yml").read_text()
    example = env_example()
    needed = {m.group(1) for m in VAR_RE.finditer(text) if m.group(2) in (None, ":?", "?")}
    assert needed - set(example) == set()
    for key in ("EMAIL_URL", "DEFAULT_FROM_EMAIL", "CSRF_TRUSTED_ORIGINS", "SITE_URL_SCHEME", "REDIS_URL"):
        assert key in example


def test_env_example_holds_placeholders_not_secrets():
    example = env_example()
    assert "change-me" in example["SECRET_KEY"]
    assert "change-me" in example["POSTGRES_PASSWORD"]
    assert not (ROOT / ".env").exists() or ".env" in (ROOT / ".gitignore").read_text()
    assert ".env" in (ROOT / ".dockerignore").read_text().split()


def test_web_prepares_the_database_and_static_files(compose):
    assert compose["services"]["web"]["environment"]["RUN_MIGRATIONS"] == "1"
    assert "RUN_MIGRATIONS" not in compose["services"]["worker"]["environment"]
    entrypoint = (ROOT / "deploy" / "entrypoint.sh").read_text()
    for command in ("migrate_schemas", "compile_catalogs", "collectstatic --noinput"):
        assert f"manage.py {command}" in entrypoint
        name = command.split()[0]
        assert any((ROOT / app / "management" / "commands" / f"{name}.py").exists()
                   for app in ("tenants", "apps/core")) or name == "collectstatic"
    assert 'exec "$@"' in entrypoint
    assert (ROOT / "deploy" / "entrypoint.sh").stat().st_mode & 0o111


def test_nginx_upgrades_websockets_and_serves_static(compose):
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    ws = re.search(r"location /ws/ \{(.*?)\n    \}", conf, re.S)
    assert ws, "no /ws/ location"
    block = ws.group(1)
    assert "proxy_http_version 1.1" in block
    assert "proxy_set_header Upgrade $http_upgrade" in block
    assert "proxy_set_header Connection $connection_upgrade" in block
    assert re.search(r"map \$http_upgrade \$connection_upgrade \{\s*default upgrade;", conf)
    assert "server web:8000" in conf
    assert re.search(r"location /static/ \{\s*alias /srv/static/;", conf)
    mounts = compose["services"]["nginx"]["volumes"]
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in mounts
    assert "static:/srv/static:ro" in mounts
    assert "static:/app/staticfiles" in compose["services"]["web"]["volumes"]


def test_dockerfile_installs_requirements_and_runs_as_non_root():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY requirements.txt" in dockerfile
    assert re.search(r"pip install -r /tmp/requirements", dockerfile)
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    assert 'ENTRYPOINT ["/app/deploy/entrypoint.sh"]' in dockerfile
    assert "saas.asgi:application" in dockerfile


def test_postgres_init_enables_pgvector():
    sql = (ROOT / "deploy" / "postgres-init.sql").read_text()
    assert "CREATE EXTENSION IF NOT EXISTS vector" in sql
