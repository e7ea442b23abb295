"""DRF exception handler: every error is JSON with a human message (``detail``) and a ``code``."""
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        return Response({"detail": exc.messages, "code": "invalid"}, status=status.HTTP_400_BAD_REQUEST)
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None)
    if code and message and exc.__class__.__name__.endswith("Error") and not hasattr(exc, "status_code"):
        # domain errors (TenantError, AccountError, ...) become 400 with their translated message
        return Response({"detail": str(message), "code": code}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
