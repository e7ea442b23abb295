"""Request id and tenant schema on every log line."""
import contextvars
import logging

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        try:
            from django.db import connection

            record.schema = getattr(connection, "schema_name", "-") or "-"
        except Exception:  # noqa: BLE001 - logging must never fail (e.g. before settings load)
            record.schema = "-"
        return True
