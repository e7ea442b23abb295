"""Browser tests: a real uvicorn (HTTP + WebSocket) on a free port against the test database,
seeded with the demo (tenant 3afrios), driven by Debian's Chromium through Playwright."""
from __future__ import annotations

import os
import signal
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, start_process

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
SCREENSHOTS = ROOT / "var" / "screenshots"
DEMO_ADMIN = ("admin@3afrios.com.br", "demo12345")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def shell_server(django_db_setup, django_db_blocker):
    """Base URL of the demo tenant on a live uvicorn; the process is killed at the end."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium) - browser tests need Debian's Chromium")
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command("seed_demo", stdout=open(os.devnull, "w"))
    port = _free_port()
    # DEBUG makes uvicorn serve /static/ (saas/asgi.py), as under `make run`
    proc = start_process(["-m", "uvicorn", "saas.asgi:application", "--host", "127.0.0.1", "--port", str(port),
                          "--lifespan", "off"], DEBUG="true")
    output: list[bytes] = []
    threading.Thread(target=lambda: output.extend(iter(proc.stdout.readline, b"")), daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail("uvicorn exited:\n" + b"".join(output).decode(errors="replace"))
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("uvicorn did not answer /health in 60 s:\n" + b"".join(output).decode(errors="replace"))
            time.sleep(0.2)
        yield f"http://3afrios.localhost:{port}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except Exception:  # noqa: BLE001 - make sure it dies
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="session")
def demo_admin(shell_server, django_db_blocker):
    """The demo Admin's login, with the preferences reset to dark theme + Portuguese (session-scoped,
    so it commits before a test's own transaction opens)."""
    from django_tenants.utils import schema_context

    from apps.accounts.models import User
    from apps.accounts.services import user_update_preferences

    with django_db_blocker.unblock(), schema_context("3afrios"):
        user_update_preferences(user=User.objects.get(email=DEMO_ADMIN[0]), theme="dark", language="pt-br")
    return DEMO_ADMIN


@pytest.fixture
def browser():
    """A headless Chromium for one test (the Playwright loop must not outlive the test: Django's
    async-safety check would refuse database access in later tests)."""
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
