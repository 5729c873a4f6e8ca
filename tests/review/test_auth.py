"""Passwords, lockout, sessions, CSRF and roles, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from pipeline.errors import BadInput, NotAllowed
from pipeline.review import auth
from pipeline.storage.models import AuditEntry, User

from review_helpers import PASSWORDS


def test_password_is_stored_as_argon2_and_checked(session, users):
    user = session.scalar(select(User).where(User.name == "lan"))
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORDS["lan"] not in user.password_hash
    assert auth.authenticate(session, "lan", PASSWORDS["lan"], attempts=5, lock_minutes=15).id == user.id
    with pytest.raises(auth.LoginRefused, match="Sai tên đăng nhập hoặc mật khẩu"):
        auth.authenticate(session, "lan", "wrong-password", attempts=5, lock_minutes=15)
    with pytest.raises(auth.LoginRefused, match="Sai tên đăng nhập hoặc mật khẩu"):
        auth.authenticate(session, "nobody", "whatever-123", attempts=5, lock_minutes=15)
    actions = [a for (a,) in session.execute(select(AuditEntry.action).order_by(AuditEntry.id))]
    assert actions[-3:] == ["login", "login.failed", "login.failed"]


def test_repeated_failures_lock_the_account_for_a_while(session, users):
    now = datetime.now(timezone.utc)
    for _ in range(3):
        with pytest.raises(auth.LoginRefused):
            auth.authenticate(session, "lan", "bad-password", attempts=3, lock_minutes=15, now=now)
    with pytest.raises(auth.LoginRefused, match="tạm khóa"):  # even the right password
        auth.authenticate(session, "lan", PASSWORDS["lan"], attempts=3, lock_minutes=15, now=now)
    later = now + timedelta(minutes=16)
    assert auth.authenticate(session, "lan", PASSWORDS["lan"], attempts=3, lock_minutes=15, now=later)
    session.commit()
    assert session.scalar(select(AuditEntry.id).where(AuditEntry.action == "login.locked"))


def test_disabled_user_cannot_log_in(session, users):
    user = auth.get_user(session, "hoa")
    auth.set_active(session, user, False, actor="an")
    with pytest.raises(auth.LoginRefused):
        auth.authenticate(session, "hoa", PASSWORDS["hoa"], attempts=5, lock_minutes=15)


def test_sessions_store_only_a_hash_and_end(session, users):
    user = auth.get_user(session, "minh")
    token = auth.open_session(session, user, hours=1)
    session.commit()
    from pipeline.storage.models import UserSession

    stored = session.scalar(select(UserSession.token_hash))
    assert token not in stored and len(stored) == 64
    p = auth.principal_for(session, token)
    assert (p.name, p.role) == ("minh", "supervisor")
    assert auth.csrf_ok(p, p.csrf_token)
    assert not auth.csrf_ok(p, "forged") and not auth.csrf_ok(p, None)
    assert auth.principal_for(session, "not-a-token") is None
    auth.close_session(session, token)
    assert auth.principal_for(session, token) is None


def test_expired_session_is_refused(session, users):
    user = auth.get_user(session, "lan")
    token = auth.open_session(session, user, hours=-1)
    assert auth.principal_for(session, token) is None


def test_roles_are_ranked():
    assert auth.has_role("admin", "supervisor") and auth.has_role("supervisor", "reviewer")
    assert not auth.has_role("reviewer", "supervisor")
    with pytest.raises(NotAllowed, match="giám sát"):
        auth.require_role("reviewer", "supervisor", "phê duyệt")


def test_bad_users_are_refused(session, users):
    with pytest.raises(BadInput, match="Đã có"):
        auth.add_user(session, "lan", "reviewer", "another-password", actor="t")
    with pytest.raises(BadInput, match="Vai trò"):
        auth.add_user(session, "x", "boss", "long-enough-1", actor="t")
    with pytest.raises(BadInput, match="ít nhất"):
        auth.add_user(session, "y", "reviewer", "short", actor="t")
