"""Keys derived from the environment's master key material, and sealing of secrets.

``PDN_MASTER_KEYS`` holds versioned master keys ("2:base64,1:base64"); the
first is current. Each use gets its own key derived with HKDF, so a key for
one purpose never serves another. Sealed values carry the version that
sealed them, which lets a rotation re-seal under the new key while the old
one still opens what it sealed.
"""

import base64
import functools
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class CryptoError(Exception):
    """The key material is missing, malformed, or does not open a value."""


@dataclass(frozen=True)
class MasterKey:
    version: int
    secret: bytes


@functools.cache
def _parse(spec: str) -> tuple[MasterKey, ...]:
    keys = []
    for part in spec.split(","):
        version, _, encoded = part.strip().partition(":")
        if not version.isdigit() or not encoded:
            raise CryptoError("PDN_MASTER_KEYS entries must look like 'version:base64'")
        secret = base64.b64decode(encoded)
        if len(secret) < 16:
            raise CryptoError("a master key must hold at least 16 bytes")
        keys.append(MasterKey(int(version), secret))
    if len({key.version for key in keys}) != len(keys):
        raise CryptoError("PDN_MASTER_KEYS repeats a version")
    return tuple(keys)


def master_keys() -> tuple[MasterKey, ...]:
    return _parse(settings.PDN_MASTER_KEYS)


def current_version() -> int:
    return master_keys()[0].version


def derive_key(purpose: str, *, version: int | None = None, length: int = 32) -> bytes:
    """A key for one purpose (e.g. ``"phone-hmac:m-001"``) under one master version."""
    keys = {key.version: key for key in master_keys()}
    chosen = keys.get(current_version() if version is None else version)
    if chosen is None:
        raise CryptoError(f"no master key of version {version}")
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=length,
        salt=b"pdn-guard",
        info=purpose.encode(),
    )
    return hkdf.derive(chosen.secret)


def _fernet(purpose: str, version: int) -> Fernet:
    key = derive_key(f"seal:{purpose}", version=version)
    return Fernet(base64.urlsafe_b64encode(key))


def seal(plaintext: str, *, purpose: str) -> str:
    """Encrypt and authenticate; the result names the key version."""
    version = current_version()
    token = _fernet(purpose, version).encrypt(plaintext.encode())
    return f"v{version}:{token.decode()}"


def sealed_version(sealed: str) -> int:
    prefix, _, _ = sealed.partition(":")
    if not prefix.startswith("v") or not prefix[1:].isdigit():
        raise CryptoError("not a sealed value")
    return int(prefix[1:])


def unseal(sealed: str, *, purpose: str) -> str:
    version = sealed_version(sealed)
    token = sealed.partition(":")[2]
    try:
        return _fernet(purpose, version).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise CryptoError("the value does not open with its key") from exc
