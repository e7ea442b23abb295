"""Activates the request's language: the signed-in user's choice, then the language cookie, then
the company's language, then the browser's. pt-BR when nothing matches."""
from django.conf import settings
from django.db import connection
from django.utils import translation

SUPPORTED = dict(settings.LANGUAGES)


class UserLanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = self.pick(request)
        previous = translation.get_language()
        translation.activate(language)
        request.LANGUAGE_CODE = language
        try:
            response = self.get_response(request)
            response.headers.setdefault("Content-Language", language)
        finally:
            # a reused thread must not carry this request's language into unrelated work
            translation.activate(previous) if previous else translation.deactivate()
        return response

    @staticmethod
    def pick(request) -> str:
        user = getattr(request, "user", None)
        tenant = getattr(connection, "tenant", None)
        candidates = [
            getattr(user, "language", "") if user is not None and user.is_authenticated else "",
            request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, ""),
            getattr(tenant, "language", "") if getattr(tenant, "schema_name", "public") != "public" else "",
            translation.get_language_from_request(request),
        ]
        for language in candidates:
            if language and language.lower() in SUPPORTED:
                return language.lower()
        return settings.LANGUAGE_CODE
