"""What can go wrong in a backup or a restore; each message is safe to print.

None of these ever carries a password: connection details are reduced to the
database name before they reach a message.
"""

from __future__ import annotations


class BackupError(Exception):
    """Base class: the backup or restore did not complete (exit code 1)."""


class CorruptBackupError(BackupError):
    """The backup is missing files, truncated, or fails its checksum."""


class TargetNotEmptyError(BackupError):
    """The restore target already holds tables and ``--force`` was not given."""


class VerificationError(BackupError):
    """The restored database does not match the manifest's counts or checksums."""


class ToolError(BackupError):
    """pg_dump / pg_restore exited with an error (its last stderr lines are kept)."""
