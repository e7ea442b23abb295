import pytest
from cryptography.fernet import Fernet
from django.test import override_settings

from apps.core import crypto


def test_round_trip_and_ciphertext_hides_the_secret():
    token = crypto.encrypt("sk-live-123")
    assert "sk-live-123" not in token
    assert crypto.decrypt(token) == "sk-live-123"


def test_key_rotation_keeps_old_values_readable():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=[old]):
        token = crypto.encrypt("secret")
    with override_settings(FIELD_ENCRYPTION_KEYS=[new, old]):
        assert crypto.decrypt(token) == "secret"
    with override_settings(FIELD_ENCRYPTION_KEYS=[new]):
        with pytest.raises(Exception):
            crypto.decrypt(token)


def test_field_refuses_to_return_garbage():
    field = crypto.EncryptedTextField()
    with pytest.raises(ValueError):
        field.from_db_value("not-a-token", None, None)
    assert field.from_db_value(field.get_prep_value("abc"), None, None) == "abc"


def test_mask_never_shows_whole_secret():
    assert crypto.mask("sk-abcdefghijkl") == "••••••••ijkl"
    assert "abc" not in crypto.mask("abc")
