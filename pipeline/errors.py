"""One exception root for everything hotich reports to a user.

    HotichError                 exit code 1, message is one Vietnamese line for the user
    ├── MissingDependency       a system program or language model is not installed (exit 3)
    ├── BadInput                a file, row or argument the user gave cannot be used (exit 2)
    │   ├── UnreadableFile      corrupt / encrypted / empty / not an image
    │   ├── ImageTooLarge       pixel count over the configured limit
    │   ├── TemplateNotFound
    │   ├── UnknownEncoding     no text encoding reads a file as Vietnamese (encodings.py)
    │   └── InvalidValue        a value a field version cannot hold (also a ValueError)
    ├── NotFound                a book, user or record id that does not exist (exit 4)
    ├── NotAllowed              the user's role or session does not allow this (exit 6)
    │   ├── LoginRequired       no valid session: the review app sends the browser to log in
    │   └── Forbidden           a request refused: a page for another role, a missing CSRF token
    └── StorageError            database or workspace unusable (exit 5)
        ├── DiskFull            no space left where we write (ENOSPC, quota, SQLITE_FULL)
        ├── NotWritable         read-only disk, no permission, a file where a folder should be
        └── DatabaseBusy        another process held the database lock longer than we wait

pipeline.faults turns the operating system's and the database driver's exceptions into the
last three, naming the path.

The CLI maps these to exit codes and prints ``str(exc)`` only; tracebacks need ``-v``.
Messages name files and ids, never personal data from the registers.
"""

from __future__ import annotations


class HotichError(Exception):
    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class MissingDependency(HotichError):
    exit_code = 3


class BadInput(HotichError):
    exit_code = 2


class UnreadableFile(BadInput):
    pass


class ImageTooLarge(BadInput):
    pass


class TemplateNotFound(BadInput):
    pass


class InvalidValue(BadInput, ValueError):
    """A ValueError too: it was one before it joined this tree, and callers catch it so."""


class NotFound(HotichError):
    exit_code = 4


class NotAllowed(HotichError):
    """The user's role does not allow this action."""

    exit_code = 6


class LoginRequired(NotAllowed):
    def __init__(self, message: str = "Cần đăng nhập"):
        super().__init__(message)


class Forbidden(NotAllowed):
    pass


class StorageError(HotichError):
    exit_code = 5


class DiskFull(StorageError):
    pass


class NotWritable(StorageError):
    pass


class DatabaseBusy(StorageError):
    pass
