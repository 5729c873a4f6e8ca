"""Faults of the places we write (disk, folder, database) as one Vietnamese line naming the path.

A full disk, a read-only workspace or a database another process keeps locked are not bugs:
the user must read what happened and where, not a 200-line traceback, and a read-only SQLite
folder must not read as "cannot connect to the database". The CLI passes every exception that
is not already a HotichError to ``explain_fault``; ``None`` means a real bug (traceback kept).

Only explicit causes are followed (``raise … from``, SQLAlchemy's ``.orig``), never the
implicit ``__context__``: a bug raised while handling an OSError must stay a bug.
"""

from __future__ import annotations

import errno
import io
import os
import sqlite3
import tempfile
import zipfile
from pathlib import Path
from types import TracebackType

from pipeline.errors import DatabaseBusy, DiskFull, HotichError, NotWritable, StorageError

FREE_SPACE_HINT = "giải phóng dung lượng đĩa rồi chạy lại cùng lệnh (phần đã xong được giữ)"
WRITABLE_HINT = "cấp quyền ghi hoặc đặt HOTICH_HOME ở thư mục ghi được, rồi chạy lại cùng lệnh"
BUSY_HINT = "đợi lệnh kia xong (hoặc dừng nó) rồi chạy lại cùng lệnh"


def explain_fault(exc: BaseException, *, database_url: str | None = None) -> HotichError | None:
    """The one-line error for ``exc`` when the surroundings failed, else None.

    ``database_url`` names the database in SQLite messages, whose errors carry no path.

        >>> explain_fault(OSError(errno.EROFS, "Read-only file system", "/mnt/ws/scans"))
        NotWritable('Không ghi được /mnt/ws/scans: ổ đĩa chỉ đọc')
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError):
            return os_fault(current)
        if isinstance(current, sqlite3.Error):
            return _sqlite_fault(current, database_url)
        if type(current).__module__.startswith("psycopg") and getattr(current, "sqlstate", None):
            return _postgres_fault(current.sqlstate, database_url)
        orig = getattr(current, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return None


def os_fault(exc: OSError) -> HotichError | None:
    """An OSError of the file system as a one-line error naming the file, or None.

    A failed ``write()`` or ``close()`` (a full disk) carries no file name, only a
    descriptor; the file object open for writing in the failing frame names it then.
    """
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        # shutil's copy names source then destination; the destination is what did not fit.
        path = exc.filename2 or exc.filename or _file_being_written(exc.__traceback__)
        where = f" khi ghi {path}" if path else ""
        if code == errno.EDQUOT:
            return DiskFull(f"Vượt hạn mức dung lượng đĩa (quota){where}", hint=FREE_SPACE_HINT)
        return DiskFull(f"Hết chỗ trống trên đĩa{where}", hint=FREE_SPACE_HINT)
    path = exc.filename or exc.filename2 or _file_being_written(exc.__traceback__)
    if path is None:
        return None
    if code == errno.EROFS:
        return NotWritable(f"Không ghi được {path}: ổ đĩa chỉ đọc", hint=WRITABLE_HINT)
    if code in (errno.EACCES, errno.EPERM):
        if os.path.exists(path) and not os.access(path, os.R_OK):
            return NotWritable(f"Không có quyền đọc {path}", hint="kiểm tra quyền của tệp")
        return NotWritable(f"Không có quyền ghi {path} (chỉ đọc, bị khóa hoặc thuộc người dùng khác)",
                           hint=WRITABLE_HINT)
    if code == errno.ENOTDIR or (code == errno.EEXIST and os.path.exists(path) and not os.path.isdir(path)):
        return NotWritable(f"Không dùng được {path}: trên đường dẫn có một tệp ở chỗ cần thư mục",
                           hint="kiểm tra HOTICH_HOME và đường dẫn đã cho")
    if code == errno.EISDIR:
        return NotWritable(f"Không dùng được {path}: đây là thư mục, cần một tệp")
    if code == errno.EIO:
        return StorageError(f"Lỗi đọc/ghi của đĩa ở {path}", hint="kiểm tra ổ đĩa")
    return None


def _file_being_written(tb: TracebackType | None) -> str | None:
    """The name of a file open for writing in the innermost frame that holds one."""
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        for value in list(frame.f_locals.values()):
            if isinstance(value, (io.IOBase, zipfile.ZipFile)):
                name = getattr(value, "name", None) or getattr(value, "filename", None)
                mode = str(getattr(value, "mode", ""))
                # "<stdout>" and the like are no files a user could free space for
                if isinstance(name, str) and not name.startswith("<") and any(c in mode for c in "wax+"):
                    return name
    return None


def _sqlite_path(database_url: str | None) -> Path | None:
    if not database_url:
        return None
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def _sqlite_fault(exc: sqlite3.Error, database_url: str | None) -> HotichError | None:
    name = getattr(exc, "sqlite_errorname", "") or ""
    path = _sqlite_path(database_url)
    db = f"cơ sở dữ liệu {path}" if path else "cơ sở dữ liệu"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        waited = ""
        if name == "SQLITE_BUSY":  # the busy handler gave up; the other kinds fail at once
            from pipeline.settings import get_settings

            waited = f" (đã chờ {get_settings().db_busy_timeout:g} giây)"
        return DatabaseBusy(f"Cơ sở dữ liệu{f' {path}' if path else ''} đang bị một tiến trình khác "
                            f"khóa{waited}", hint=BUSY_HINT)
    if name == "SQLITE_FULL":
        return DiskFull(f"Hết chỗ trống trên đĩa khi ghi {db}", hint=FREE_SPACE_HINT)
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_PERM")):
        # SQLite says only "readonly" or "unable to open"; the operating system says why.
        if path is not None:
            cause = probe_sqlite_file(path)
            if cause is not None:
                fault = os_fault(cause)
                if fault is not None:
                    return fault
        if name.startswith("SQLITE_READONLY"):
            return NotWritable(f"Không ghi được {db}: tệp chỉ cho đọc", hint=WRITABLE_HINT)
        if name.startswith("SQLITE_CANTOPEN"):
            return NotWritable(f"Không mở được tệp {db}", hint=WRITABLE_HINT)
        return StorageError(f"Lỗi đọc/ghi của đĩa ở {db} ({name})", hint="kiểm tra ổ đĩa")
    return None


def probe_sqlite_file(path: Path) -> OSError | None:
    """Why SQLite cannot write ``path``, asked of the operating system, or None.

    SQLite needs the file open read-write and its folder open to new files (the WAL and
    shared-memory files beside it), so both are tried; nothing is left behind.
    """
    try:
        if path.exists():
            os.close(os.open(path, os.O_RDWR))
        folder = path.parent
        if not folder.exists():
            return OSError(errno.ENOENT, os.strerror(errno.ENOENT), str(folder))
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".hotich-probe-")
    except OSError as exc:
        if exc.filename and Path(exc.filename).name.startswith(".hotich-probe-"):
            exc.filename = str(Path(exc.filename).parent)
        return exc
    os.close(fd)
    os.unlink(probe)
    return None


def _postgres_fault(sqlstate: str, database_url: str | None) -> HotichError | None:
    from pipeline.storage.db import display_url

    db = f"cơ sở dữ liệu {display_url(database_url)}" if database_url else "cơ sở dữ liệu"
    if sqlstate == "53100":  # disk_full
        return DiskFull(f"Máy chủ {db} hết chỗ trống trên đĩa", hint="báo quản trị máy chủ cơ sở dữ liệu")
    if sqlstate == "25006":  # read_only_sql_transaction: a standby, or default_transaction_read_only
        return NotWritable(f"Không ghi được {db}: máy chủ chỉ cho đọc",
                           hint="đặt HOTICH_DB_URL tới máy chủ chính, cho phép ghi")
    if sqlstate == "42501":  # insufficient_privilege
        return NotWritable(f"Tài khoản dùng cho {db} không có quyền ghi",
                           hint="cấp quyền cho tài khoản trong HOTICH_DB_URL")
    if sqlstate == "55P03":  # lock_not_available: lock_timeout ran out
        return DatabaseBusy(f"Dữ liệu cần ghi trong {db} đang bị một phiên khác khóa quá lock_timeout",
                            hint=BUSY_HINT)
    return None
