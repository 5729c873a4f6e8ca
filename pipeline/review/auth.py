"""Who may do what: argon2 passwords, roles, server-side sessions, CSRF tokens, lockout.

A session cookie carries a random token; the database keeps only its SHA-256, so a copy of
the database does not let anyone log in as a reviewer. Each session has its own CSRF token,
put into every form and htmx request and checked on every unsafe request. Failed logins in a
row lock the account for a while; an unknown name costs the same argon2 work as a known one,
so timing does not tell which names exist.
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

from pipeline.errors import BadInput, HotichError, NotFound
from pipeline.storage.audit import audit
from pipeline.storage.models import User, UserSession

ROLES = ("reviewer", "supervisor", "admin")
#: Each role may do what the roles before it may: a supervisor also reviews, an admin also
#: approves. Checked on the server for every page and action.
RANK = {role: i for i, role in enumerate(ROLES)}
ROLE_LABELS = {"reviewer": "người duyệt", "supervisor": "giám sát", "admin": "quản trị"}
MIN_PASSWORD = 8

_hasher = PasswordHasher()
# Verified against when the name is unknown, so that a miss costs as long as a hit.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class NotAllowed(HotichError):
    """The user's role does not allow this action."""

    exit_code = 6


class LoginRefused(HotichError):
    """Wrong name or password, a locked or disabled account: one message for all but lockout."""


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


def has_role(actual: str, needed: str) -> bool:
    """``has_role("admin", "supervisor")`` is True: roles are ranked."""
    return RANK.get(actual, -1) >= RANK[needed]


def require_role(role: str, needed: str, what: str) -> None:
    """Raise NotAllowed unless ``role`` reaches ``needed``; ``what`` names the action."""
    if not has_role(role, needed):
        raise NotAllowed(f"Vai trò {ROLE_LABELS.get(role, role)} không được {what}",
                         hint=f"cần vai trò {ROLE_LABELS[needed]}")


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


def get_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"Không có người dùng '{name}'")
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
                 lock_minutes: float, now: datetime | None = None) -> User:
    """The user, if ``password`` is theirs and the account is open; else LoginRefused.

    ``attempts`` failures in a row lock the account for ``lock_minutes``; during the lock
    even the right password is refused. Every outcome is audited (the log says nothing of
    the password).
    """
    now = now or datetime.now(timezone.utc)
    user = session.scalar(select(User).where(User.name == name))
    if user is None or not user.password_hash:
        _verify(_DUMMY_HASH, password)
        audit(session, "anonymous", "login.failed", "user", None, reason="unknown")
        raise LoginRefused("Sai tên đăng nhập hoặc mật khẩu")
    if user.locked_until is not None and user.locked_until > now:
        audit(session, user.name, "login.locked", "user", user.id)
        minutes = max(1, round((user.locked_until - now).total_seconds() / 60))
        raise LoginRefused(f"Tài khoản tạm khóa do đăng nhập sai nhiều lần; thử lại sau "
                           f"{minutes} phút")
    if not _verify(user.password_hash, password) or not user.is_active:
        user.failed_logins = (user.failed_logins or 0) + 1
        detail = {"failures": user.failed_logins}
        if user.failed_logins >= attempts:
            user.locked_until = now + timedelta(minutes=lock_minutes)
            user.failed_logins = 0
            detail["locked_minutes"] = lock_minutes
        audit(session, user.name, "login.failed", "user", user.id, **detail)
        raise LoginRefused("Sai tên đăng nhập hoặc mật khẩu")
    user.failed_logins = 0
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit(session, user.name, "login", "user", user.id)
    return user


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
