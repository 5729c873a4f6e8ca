"""Who may do what: argon2 passwords, roles, server-side sessions, CSRF tokens, lockout.

A session cookie carries a random token; the database keeps only its SHA-256, so a copy of
the database does not let anyone log in as a reviewer. Each session has its own CSRF token,
put into every form and htmx request and checked on every unsafe request. Failed logins in a
row lock the account for a while, and too many from one address refuse that address for a
while whatever names it tries; an unknown name costs the same argon2 work as a known one, so
timing does not tell which names exist.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pipeline.errors import BadInput, HotichError
# roles live on the ground floor and user rows with storage; named here for the review rooms
from pipeline.roles import RANK, ROLE_LABELS, ROLES, has_role, require_role  # noqa: F401
from pipeline.storage.audit import audit
from pipeline.storage.models import AuditEntry, User, UserSession
from pipeline.storage.users import get_user  # noqa: F401

MIN_PASSWORD = 8
#: An address may spend this many accounts' worth of wrong passwords (``attempts`` each)
#: within ``lock_minutes`` before it is refused outright: one password tried against many
#: names locks no account, so failures are counted per address as well.
ADDRESS_ACCOUNTS = 4

_hasher = PasswordHasher()
# Verified against when the name is unknown, so that a miss costs as long as a hit.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class LoginRefused(HotichError):
    """Wrong name or password, a locked or disabled account: one message for all but lockout."""


class LoginThrottled(LoginRefused):
    """Too many wrong passwords from one address: refused before any password is checked."""

    def __init__(self, message: str, *, retry_after: timedelta):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Principal:
    """The logged-in user as a request sees it."""

    user_id: int
    name: str
    role: str
    csrf_token: str
    session_id: int

    def can(self, role: str) -> bool:
        return has_role(self.role, role)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise BadInput(f"Mật khẩu phải có ít nhất {MIN_PASSWORD} ký tự")


def add_user(session: Session, name: str, role: str, password: str, *, actor: str) -> User:
    """Create a user with an argon2 hash of ``password``; audited.

        >>> add_user(session, "lan", "reviewer", "mật-khẩu-dài", actor="system:cli").role
        'reviewer'
    """
    name = name.strip()
    if not name or len(name) > 64 or any(c.isspace() for c in name):
        raise BadInput("Tên đăng nhập phải có 1–64 ký tự, không có khoảng trắng")
    if role not in ROLES:
        raise BadInput(f"Vai trò '{role}' không hợp lệ", hint="reviewer, supervisor hoặc admin")
    _check_password(password)
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise BadInput(f"Đã có người dùng '{name}'")
    user = User(name=name, role=role, password_hash=hash_password(password), failed_logins=0,
                is_active=True)
    session.add(user)
    session.flush()
    audit(session, actor, "user.add", "user", user.id, role=role)
    return user


def set_password(session: Session, user: User, password: str, *, actor: str) -> None:
    _check_password(password)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    audit(session, actor, "user.password", "user", user.id)


def set_role(session: Session, user: User, role: str, *, actor: str) -> None:
    if role not in ROLES:
        raise BadInput(f"Vai trò '{role}' không hợp lệ")
    previous, user.role = user.role, role
    audit(session, actor, "user.role", "user", user.id, previous=previous, role=role)


def set_active(session: Session, user: User, active: bool, *, actor: str) -> None:
    user.is_active = active
    if not active:
        session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    audit(session, actor, "user.enable" if active else "user.disable", "user", user.id)


def authenticate(session: Session, name: str, password: str, *, attempts: int,
                 lock_minutes: float, address: str | None = None,
                 now: datetime | None = None) -> User:
    """The user, if ``password`` is theirs and the account is open; else LoginRefused.

    ``attempts`` failures in a row lock the account for ``lock_minutes``; during the lock
    even the right password is refused. The count is not cleared when the lock ends, so
    after it each further wrong password locks again: only a right password, a new
    password or an admin's unlock starts afresh. An ``address`` (the client's) with
    ``attempts * ADDRESS_ACCOUNTS`` wrong passwords within ``lock_minutes`` gets
    LoginThrottled, whichever names it tries. Every outcome is audited with the address
    (the log says nothing of the password, nor of a name that is not a user's).

    The caller must commit even when this raises — the count, the lock and the audit row
    are the point — so call it inside a transaction that the refusal does not roll back:

        >>> with session_scope(engine, write_lock=True) as s:
        ...     try:
        ...         user = authenticate(s, "lan", typed, attempts=5, lock_minutes=15,
        ...                             address="10.0.0.7")
        ...     except LoginRefused as exc:
        ...         refused = exc
    """
    now = now or datetime.now(timezone.utc)
    where = {"address": address} if address else {}
    # FOR UPDATE (a no-op on SQLite, whose write lock is taken at BEGIN): two concurrent
    # guesses on PostgreSQL must not both read the same count and each add one to it.
    user = session.scalar(select(User).where(User.name == name).with_for_update())
    if address:
        free_at = _address_free_at(session, address, limit=attempts * ADDRESS_ACCOUNTS,
                                   window=timedelta(minutes=lock_minutes), now=now)
        if free_at is not None:
            audit(session, user.name if user else "anonymous", "login.throttled", "user",
                  user.id if user else None, **where)
            raise LoginThrottled(f"Quá nhiều lần đăng nhập sai từ máy này; thử lại sau "
                                 f"{_minutes(free_at - now)} phút", retry_after=free_at - now)
    if user is None or not user.password_hash:
        _verify(_DUMMY_HASH, password)
        audit(session, "anonymous", "login.failed", "user", None, reason="unknown", **where)
        raise LoginRefused("Sai tên đăng nhập hoặc mật khẩu")
    if user.locked_until is not None and user.locked_until > now:
        audit(session, user.name, "login.locked", "user", user.id, **where)
        raise LoginRefused(f"Tài khoản tạm khóa do đăng nhập sai nhiều lần; thử lại sau "
                           f"{_minutes(user.locked_until - now)} phút")
    if not _verify(user.password_hash, password) or not user.is_active:
        user.failed_logins = (user.failed_logins or 0) + 1
        detail = {"failures": user.failed_logins, **where}
        if user.failed_logins >= attempts:
            user.locked_until = now + timedelta(minutes=lock_minutes)
            detail["locked_minutes"] = lock_minutes
        audit(session, user.name, "login.failed", "user", user.id, **detail)
        raise LoginRefused("Sai tên đăng nhập hoặc mật khẩu")
    user.failed_logins = 0
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit(session, user.name, "login", "user", user.id, **where)
    return user


def _address_free_at(session: Session, address: str, *, limit: int, window: timedelta,
                     now: datetime) -> datetime | None:
    """When ``address`` may try again, or None if it may now.

    The address is refused while ``limit`` wrong passwords from it lie within ``window``;
    it is free again when the ``limit``-th most recent of them leaves the window. Only
    ``login.failed`` counts — a refusal checks no password, so it guesses nothing.
    """
    oldest_counted = session.scalar(
        select(AuditEntry.at)
        .where(AuditEntry.action == "login.failed", AuditEntry.at > now - window,
               AuditEntry.detail["address"].as_string() == address)
        .order_by(AuditEntry.at.desc()).offset(limit - 1).limit(1))
    return None if oldest_counted is None else oldest_counted + window


def _minutes(delta: timedelta) -> int:
    return max(1, round(delta.total_seconds() / 60))


@dataclass(frozen=True)
class Account:
    """A user as an admin sees it in ``hotich users list``."""

    name: str
    role: str
    is_active: bool
    failed_logins: int
    locked_until: datetime | None  # None unless locked now


def list_accounts(session: Session, now: datetime | None = None) -> list[Account]:
    """Every user by name, with the wrong passwords in a row and a lock still running.

        >>> [(a.name, a.failed_logins) for a in list_accounts(session)]
        [('an', 0), ('lan', 5)]
    """
    now = now or datetime.now(timezone.utc)
    return [Account(u.name, u.role, u.is_active, u.failed_logins or 0,
                    u.locked_until if u.locked_until and u.locked_until > now else None)
            for u in session.scalars(select(User).order_by(User.name))]


def unlock_user(session: Session, user: User, *, actor: str) -> None:
    """Clear the lock and the count of wrong passwords; audited.

    Needed because the count survives the lock's end (see ``authenticate``): a user who
    still does not know the password is otherwise locked again at each wrong one.
    """
    previous = {"failures": user.failed_logins or 0,
                "locked_until": user.locked_until}
    user.failed_logins = 0
    user.locked_until = None
    audit(session, actor, "user.unlock", "user", user.id, **previous)


def _verify(hash_: str, password: str) -> bool:
    try:
        return _hasher.verify(hash_, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, user: User, *, hours: float) -> str:
    """A new login session for ``user``; returns the token to put in the cookie."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(timezone.utc)
    session.add(UserSession(token_hash=_token_hash(token), user_id=user.id,
                            csrf_token=secrets.token_urlsafe(32), created_at=now,
                            last_seen_at=now, expires_at=now + timedelta(hours=hours)))
    # Expired sessions of anyone are dropped here rather than by a cron job.
    session.execute(delete(UserSession).where(UserSession.expires_at < now))
    session.flush()
    return token


def principal_for(session: Session, token: str | None) -> Principal | None:
    """The logged-in user behind a cookie token, or None (unknown, expired, disabled)."""
    if not token:
        return None
    row = session.scalar(select(UserSession).where(UserSession.token_hash == _token_hash(token)))
    now = datetime.now(timezone.utc)
    if row is None or row.expires_at <= now or not row.user.is_active:
        return None
    return Principal(row.user.id, row.user.name, row.user.role, row.csrf_token, row.id)


def close_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(UserSession).where(UserSession.token_hash == _token_hash(token)))


def csrf_ok(principal: Principal | None, sent: str | None) -> bool:
    """Constant-time check of the token a form or htmx request carried."""
    return bool(principal and sent) and hmac.compare_digest(principal.csrf_token, sent)
