"""Encryption of credentials at rest (Fernet). Keys come from FIELD_ENCRYPTION_KEYS (comma-separated,
newest first, so old values stay readable while rotating); without them a key is derived from
SECRET_KEY, which is enough for development but ties the data to that secret."""
from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models


@functools.lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"saas-field-encryption", info=b"v1").derive(
            secret_key.encode()
        )
        keys = (base64.urlsafe_b64encode(derived).decode(),)
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    return fernet().decrypt(token.encode()).decode()


class EncryptedTextField(models.TextField):
    """A text column stored encrypted; reads give the plain value back. Not searchable by content."""

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        try:
            return decrypt(value)
        except InvalidToken as exc:
            raise ValueError("stored credential cannot be decrypted with the configured keys") from exc

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(value)


def mask(value: str, visible: int = 4) -> str:
    """What the UI shows of a stored secret: never the whole of it."""
    if not value:
        return ""
    return "•" * 8 + value[-visible:] if len(value) > visible * 2 else "•" * 8
