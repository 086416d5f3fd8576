"""age encryption of backup dumps (pyrage, the Rust ``rage`` implementation).

A backup is encrypted to one or more age public keys (``age1...`` lines, ``#``
comments allowed); only the holder of a matching private identity
(``AGE-SECRET-KEY-1...``) can restore it. The public keys are not secret, so the
backup Job needs nothing confidential to write an encrypted backup. age
authenticates every chunk, so a tampered file fails to decrypt as well as
failing its manifest checksum.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pyrage
from pyrage import x25519

from ragagent.backup.errors import BackupError, CorruptBackupError

ENCRYPTION = "age"
_SECRET_PREFIX = "AGE-SECRET-KEY-1"  # noqa: S105 (the prefix that marks a private key)
_Key = TypeVar("_Key")


def _lines(text: str) -> list[str]:
    stripped = (line.strip() for line in text.splitlines())
    return [line for line in stripped if line and not line.startswith("#")]


def parse_recipients(text: str) -> list[x25519.Recipient]:
    """age public keys, one a line; BackupError naming the bad line (never a secret)."""
    return _parse_lines(text, _recipient, "no age recipient given: the recipients list is empty")


def parse_identities(text: str) -> list[x25519.Identity]:
    """age private identities, one a line (an ``age-keygen`` file); the key never in errors."""
    return _parse_lines(text, _identity, "no age identity given: the identity file is empty")


def _parse_lines(text: str, parse: Callable[[int, str], _Key], empty: str) -> list[_Key]:
    """Each key line (numbered from 1, comments and blanks skipped) parsed; ``empty`` if none."""
    parsed = [parse(number, line) for number, line in enumerate(_lines(text), start=1)]
    if not parsed:
        raise BackupError(empty)
    return parsed


def _recipient(number: int, line: str) -> x25519.Recipient:
    if line.upper().startswith(_SECRET_PREFIX):
        raise BackupError(
            f"recipient {number} is an age private identity, not a public key: "
            "give the backup only the age1... public key"
        )
    try:
        return x25519.Recipient.from_str(line)
    except (pyrage.RecipientError, ValueError):
        raise BackupError(f"recipient {number} is not an age public key (age1...)") from None


def _identity(number: int, line: str) -> x25519.Identity:
    try:
        return x25519.Identity.from_str(line)
    except (pyrage.IdentityError, ValueError):
        raise BackupError(f"identity {number} is not an age private key") from None


def read_identities(path: Path) -> list[x25519.Identity]:
    return parse_identities(read_text(path, "identity"))


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BackupError(f"cannot read the {what} file {path}: {exc.strerror}") from None


def encrypt_file(source: Path, target: Path, recipients: list[x25519.Recipient]) -> None:
    """Stream ``source`` into ``target`` encrypted (age's binary format)."""
    try:
        pyrage.encrypt_file(str(source), str(target), list(recipients))
    except pyrage.EncryptError as exc:
        raise BackupError(f"encryption failed: {exc}") from None


def decrypt_file(source: Path, target: Path, identities: list[x25519.Identity]) -> None:
    """Decrypt into ``target`` (created 0600); a wrong key or damaged file is a clear error."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    try:
        pyrage.decrypt_file(str(source), str(target), list(identities))
    except (pyrage.DecryptError, OSError) as exc:
        # A damaged chunk past the header surfaces from the stream as an OSError.
        target.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # a real I/O error (missing file, full disk): the CLI reports it as such
        if "No matching keys" in str(exc):
            raise BackupError(
                f"{source.name}: none of the given age identities can decrypt this backup "
                "(it was encrypted to other public keys)"
            ) from None
        raise CorruptBackupError(f"{source.name}: decryption failed, damaged or altered") from None
