"""Passwords and device tokens.

Passwords are kept as scrypt hashes with a per-account salt (stdlib hashlib.scrypt,
memory-hard); tokens are random and only their SHA-256 is stored, so a copy of the
database does not let anyone sign in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

# n=2**14, r=8: about 16 MB and tens of milliseconds per check on a small server.
_N, _R, _P = 2 ** 14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    """Constant work whether or not the account exists, so timing tells nothing."""
    if not stored:
        hashlib.scrypt(password.encode(), salt=b"0" * 16, n=_N, r=_R, p=_P)
        return False
    _, n, r, p, salt, digest = stored.split("$")
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(got.hex(), digest)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
