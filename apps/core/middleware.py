import logging
import re
import time
import uuid

from .logging import request_id_var

_VALID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_PROBES = ("/health", "/ready")
access_log = logging.getLogger("apps.core.request")


class RequestIdMiddleware:
    """Takes X-Request-ID from the proxy (or makes one), exposes it to logs and echoes it back.

    Also writes one access line per request (not for the probes), after the tenant was resolved,
    so the line carries the schema along with the request id.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            if request.path_info not in _PROBES:
                duration_ms = round((time.perf_counter() - started) * 1000, 1)
                access_log.info(
                    "%s %s %s %sms", request.method, request.path, response.status_code, duration_ms,
                    extra={"method": request.method, "path": request.path, "status": response.status_code,
                           "duration_ms": duration_ms},
                )
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class HealthCheckMiddleware:
    """Answers /health and /ready before tenant resolution and host checks.

    Placed right after RequestIdMiddleware (before django-tenants): liveness then costs no
    database query, and load balancers that probe by IP address or an internal name get an answer
    instead of a 404 for an unknown domain.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == "/health":
            from .views import health

            return health(request)
        if request.path_info == "/ready":
            from .views import ready

            return ready(request)
        return self.get_response(request)
