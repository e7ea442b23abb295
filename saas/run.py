"""`make run`: embedded PostgreSQL + Redis (unless the URLs are set), migrations, demo seed, then
uvicorn (HTTP + WebSocket), a Celery worker and Celery beat. Ctrl-C stops all of it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.dev")
sys.path.insert(0, str(ROOT))

from tenants.embedded import ensure_services, stop_all  # noqa: E402


def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, check=True)


def main() -> int:
    ensure_services(ROOT / "var" / "dev", dbname="saas")
    os.environ.setdefault("DEBUG", "true")
    manage("compile_catalogs")
    manage("migrate_schemas")
    manage("seed_demo")
    port = os.environ.get("PORT", "8000")
    bin_dir = Path(sys.executable).parent
    commands = {
        "web": [str(bin_dir / "uvicorn"), "saas.asgi:application", "--host", os.environ.get("HOST", "127.0.0.1"),
                "--port", port, "--lifespan", "off", "--ws", "websockets"],
        "worker": [str(bin_dir / "celery"), "-A", "saas", "worker", "--loglevel", "INFO", "--concurrency", "2",
                   "--pool", "prefork"],
        "beat": [str(bin_dir / "celery"), "-A", "saas", "beat", "--loglevel", "INFO",
                 "--schedule", str(ROOT / "var" / "dev" / "celerybeat-schedule")],
    }
    children: dict[str, subprocess.Popen] = {}
    for name, cmd in commands.items():
        children[name] = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True)
    print(f"\nRunning: web on http://localhost:{port}/ (pid {children['web'].pid}), "
          f"worker (pid {children['worker'].pid}), beat (pid {children['beat'].pid}). Ctrl-C stops everything.\n",
          flush=True)

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, proc in children.items():
            if proc.poll() is not None:
                print(f"{name} exited with {proc.returncode}; stopping the rest.", flush=True)
                exit_code, stopping = 1, True
                break
        time.sleep(0.5)

    for proc in children.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.time() + 15
    for proc in children.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    stop_all()
    print("Stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
