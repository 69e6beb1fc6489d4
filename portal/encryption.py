"""The one way the product stores a secret: `EncryptedTextField`, Fernet under ENCRYPTION_KEYS.

MultiFernet: the first key encrypts, every key decrypts, so a new key is put first, then
`manage.py rotate_encryption_keys` re-encrypts every encrypted field under it, then the old key is
removed. The rotation command finds the fields by type (`encrypted_fields()`), so a model that
declares an `EncryptedTextField` is covered without registering it anywhere else.

A decrypted value is a `Secret`, not a `str`: its repr and str are masked, so it cannot leak into a
log line, an error page, a template or an admin form by accident; `reveal()` says so on purpose.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models.query_utils import DeferredAttribute

MASK = "••••••••"


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("ENCRYPTION_KEYS is empty.")
    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    # Keyed on the setting's value, so tests that change the keys get the matching MultiFernet.
    return _fernet(tuple(settings.ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        # Never include the ciphertext: the message may end up on an error page or in a log.
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with any key in ENCRYPTION_KEYS "
            "(was a key removed before `manage.py rotate_encryption_keys` ran?)."
        ) from None


class _SecretAttribute(DeferredAttribute):
    """Wraps whatever is assigned in a `Secret`, so a freshly set token is masked too."""

    def __set__(self, instance: models.Model, value: Any) -> None:
        instance.__dict__[self.field.attname] = self.field.to_python(value)


if TYPE_CHECKING:
    # A model's attribute holds a Secret; a str assigned to it becomes one (`_SecretAttribute`).
    # Django's fields take no type arguments at run time, hence the two spellings.
    _EncryptedTextBase = models.TextField[Secret | str, Secret]
else:
    _EncryptedTextBase = models.TextField


class EncryptedTextField(_EncryptedTextBase):
    """Ciphertext in the database, a `Secret` in Python. Empty means "no secret"."""

    descriptor_class = _SecretAttribute

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Secret | None:
        if value is None:
            return None
        return Secret(decrypt(value)) if value else Secret("")

    def to_python(self, value: Any) -> Secret | None:
        if value is None or isinstance(value, Secret):
            return value
        return Secret(str(value))

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        plaintext = value.reveal() if isinstance(value, Secret) else str(value)
        return encrypt(plaintext) if plaintext else ""

    def value_to_string(self, obj: models.Model) -> str:
        # Serialisation (dumpdata, the admin's history) never carries the secret.
        return MASK

    def formfield(self, *args: Any, **kwargs: Any) -> None:
        # No form, the admin's included, ever shows or edits a secret.
        return None


def encrypted_fields() -> list[tuple[type[models.Model], list[EncryptedTextField]]]:
    """Every model with encrypted fields, and those fields: what key rotation must rewrite."""
    found = []
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if fields:
            found.append((model, fields))
    return found
