from .base import get_provider, register_provider  # noqa: F401
