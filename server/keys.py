"""Secrets: resume tokens, host keys, passcodes and ids.

Tokens and host keys are 256-bit random strings; the archive stores only their SHA-256, so a
leaked database does not let anyone resume a session or take over a workshop. Passcodes are
chosen by people and may be weak, so they get a slow, salted hash (scrypt, RFC 7914).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class _Pool:
    """Bytes from the operating system's CSPRNG (``os.urandom``), fetched 4 KiB at a time.

    Every connection takes four ids and a token; one system call each cost 5% of the server's
    time joining 10,000 members (docs/benchmarks.md). Each byte is handed out once: the lock
    covers threads, and a forked child starts with a pool of its own.
    """

    SIZE = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bytes = b""
        self._at = 0
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._bytes, self._at = b"", 0

    def take(self, n: int) -> bytes:
        if n > self.SIZE:
            return os.urandom(n)
        with self._lock:
            if self._at + n > len(self._bytes):
                self._bytes, self._at = os.urandom(self.SIZE), 0
            start, self._at = self._at, self._at + n
            return self._bytes[start : self._at]


random_bytes = _Pool().take


def urlsafe(nbytes: int) -> str:
    """``nbytes`` random bytes in url-safe base64 without padding (``secrets.token_urlsafe``)."""
    return base64.urlsafe_b64encode(random_bytes(nbytes)).rstrip(b"=").decode()


def new_token() -> str:
    return urlsafe(32)


def new_id(prefix: str, nbytes: int = 9) -> str:
    """A url-safe id; private room ids use ``nbytes=16`` so they cannot be guessed."""
    return prefix + urlsafe(nbytes)


def digest(token: str) -> str:
    """What the archive stores of a token or host key."""
    return hashlib.sha256(token.encode()).hexdigest()


def matches(token: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(token), stored_digest)


def hash_passcode(passcode: str) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(passcode.encode(), salt=salt, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(key).decode()


def check_passcode(passcode: str, stored: str) -> bool:
    scheme, _, rest = stored.partition("$")
    salt_b64, _, key_b64 = rest.partition("$")
    if scheme != "scrypt" or not key_b64:
        return False
    key = hashlib.scrypt(passcode.encode(), salt=base64.b64decode(salt_b64), **_SCRYPT)
    return hmac.compare_digest(key, base64.b64decode(key_b64))
