"""Password guessing through the real app: counted, locked, throttled per address, unlocked by an
admin with `hotich users unlock`; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from pipeline.review import auth
from pipeline.review.app import COOKIE, create_app
from pipeline.review.config import ReviewSettings
from pipeline.settings import Settings
from pipeline.storage.db import session_scope
from pipeline.storage.models import AuditEntry, User

from review_helpers import PASSWORDS

WRONG = "sai-mat-khau-99"


@pytest.fixture
def site(engine, users, tmp_path):
    """A client factory: ``site("10.0.0.9")`` talks to one app over ``engine`` from that address."""
    app = create_app(engine, Settings(home=tmp_path / "ws"), ReviewSettings())
    clients = []

    def client(address: str = "10.0.0.7") -> TestClient:
        clients.append(TestClient(app, client=(address, 50000)))
        return clients[-1]

    yield client
    for c in clients:
        c.close()


def log_in(client: TestClient, name: str, password: str):
    """One try at the login form, as a browser makes it (the form's CSRF cookie first)."""
    client.get("/login")
    return client.post("/login", data={"name": name, "password": password,
                                       "csrf_token": client.cookies.get("hotich_login_csrf"),
                                       "next": "/queue"}, follow_redirects=False)


def logged_in(response) -> bool:
    return response.status_code == 303 and COOKIE in response.cookies


def user_row(engine, name: str) -> User:
    with session_scope(engine) as s:
        return s.scalar(select(User).where(User.name == name))


def audit_rows(engine, action: str) -> list[AuditEntry]:
    with session_scope(engine) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)
                              .order_by(AuditEntry.id)))


@pytest.fixture
def cli(run, engine, monkeypatch):
    """The CLI on the same database as the app (PostgreSQL too, not only the workspace's SQLite)."""
    monkeypatch.setenv("HOTICH_DB_URL", engine.url.render_as_string(hide_password=False))
    return run


def test_thirty_wrong_passwords_lock_the_account_until_an_admin_unlocks_it(site, engine, cli):
    client = site()
    answers = [log_in(client, "lan", WRONG) for _ in range(30)]
    assert all(r.status_code == 401 for r in answers)
    assert all("Sai tên đăng nhập hoặc mật khẩu" in r.text for r in answers[:5])
    assert all("Tài khoản tạm khóa do đăng nhập sai nhiều lần" in r.text for r in answers[5:])

    lan = user_row(engine, "lan")
    assert lan.failed_logins == 5
    assert lan.locked_until > datetime.now(timezone.utc) + timedelta(minutes=14)
    failed = audit_rows(engine, "login.failed")
    assert [e.detail["failures"] for e in failed] == [1, 2, 3, 4, 5]
    assert {(e.actor, e.entity_id, e.detail["address"]) for e in failed} == {("lan", str(lan.id), "10.0.0.7")}
    assert failed[-1].detail["locked_minutes"] == 15
    assert len(audit_rows(engine, "login.locked")) == 25
    assert all(WRONG not in str(e.detail) for e in failed)

    refused = log_in(client, "lan", PASSWORDS["lan"])  # the right one, while locked
    assert refused.status_code == 401 and not logged_in(refused)
    assert "tạm khóa" in refused.text

    listed = cli("users", "list")
    assert listed.exit_code == 0, listed.output
    for header in ("Tên đăng nhập", "Vai trò", "Đăng nhập sai", "Khóa đến", "Trạng thái"):
        assert header in listed.output
    lan_line = next(line for line in listed.output.splitlines() if " lan " in line)
    assert "người duyệt" in lan_line and " 5 " in lan_line and "tạm khóa" in lan_line
    hoa_line = next(line for line in listed.output.splitlines() if " hoa " in line)
    assert " 0 " in hoa_line and "—" in hoa_line and "hoạt động" in hoa_line
    assert "hotich users unlock" in listed.output

    unlocked = cli("users", "unlock", "lan")
    assert unlocked.exit_code == 0, unlocked.output
    assert "Đã mở khóa người dùng lan" in unlocked.output
    (entry,) = audit_rows(engine, "user.unlock")
    assert (entry.actor, entry.entity_id, entry.detail["failures"]) == ("system:cli", str(lan.id), 5)
    lan = user_row(engine, "lan")
    assert (lan.failed_logins, lan.locked_until) == (0, None)

    assert logged_in(log_in(client, "lan", PASSWORDS["lan"]))
    assert client.get("/queue").status_code == 200


def test_a_right_password_clears_the_count(site, engine):
    client = site()
    for _ in range(4):
        assert log_in(client, "lan", WRONG).status_code == 401
    assert user_row(engine, "lan").failed_logins == 4
    assert logged_in(log_in(client, "lan", PASSWORDS["lan"]))
    assert user_row(engine, "lan").failed_logins == 0
    for _ in range(4):  # four more: not five in a row, so still open
        log_in(client, "lan", WRONG)
    assert user_row(engine, "lan").locked_until is None
    assert logged_in(log_in(client, "lan", PASSWORDS["lan"]))


def test_one_address_guessing_across_accounts_is_refused_with_429(site, engine):
    guesser = site("10.0.0.66")
    names = ["lan", "hoa", "minh", "an", "khong-co-1", "khong-co-2"]
    # Twenty wrong passwords (four accounts' worth of five), at most four per name: no lock.
    tries = [(name, i) for i in range(4) for name in names][:20]
    for name, _ in tries:
        assert log_in(guesser, name, WRONG).status_code == 401
    assert all(user_row(engine, n).locked_until is None for n in ("lan", "hoa", "minh", "an"))

    throttled = log_in(guesser, "lan", PASSWORDS["lan"])  # even the right password
    assert throttled.status_code == 429 and not logged_in(throttled)
    assert "Quá nhiều lần đăng nhập sai từ máy này; thử lại sau 15 phút" in throttled.text
    assert 14 * 60 < int(throttled.headers["Retry-After"]) <= 15 * 60
    assert log_in(guesser, "khong-co-3", WRONG).status_code == 429
    entries = audit_rows(engine, "login.throttled")
    assert [(e.actor, e.detail["address"]) for e in entries] == [("lan", "10.0.0.66"),
                                                                ("anonymous", "10.0.0.66")]
    # A throttled try checks no password, so it counts against no account.
    assert user_row(engine, "lan").failed_logins == sum(1 for n, _ in tries if n == "lan")

    colleague = site("10.0.0.8")  # another machine is not held back by the guesser
    assert logged_in(log_in(colleague, "lan", PASSWORDS["lan"]))


def test_the_count_outlasts_the_lock_until_a_right_password_or_an_unlock(session, users):
    now = datetime.now(timezone.utc)
    for _ in range(5):
        with pytest.raises(auth.LoginRefused):
            auth.authenticate(session, "hoa", WRONG, attempts=5, lock_minutes=15, now=now)
    after = now + timedelta(minutes=16)
    with pytest.raises(auth.LoginRefused, match="Sai tên"):  # the lock is over ...
        auth.authenticate(session, "hoa", WRONG, attempts=5, lock_minutes=15, now=after)
    with pytest.raises(auth.LoginRefused, match="tạm khóa"):  # ... but one more wrong relocks
        auth.authenticate(session, "hoa", PASSWORDS["hoa"], attempts=5, lock_minutes=15, now=after)
    hoa = auth.get_user(session, "hoa")
    assert [(a.name, a.failed_logins, a.locked_until) for a in auth.list_accounts(session, after)
            if a.name == "hoa"] == [("hoa", 6, hoa.locked_until)]
    auth.unlock_user(session, hoa, actor="an")
    assert [a.locked_until for a in auth.list_accounts(session, after)] == [None] * 4
    assert auth.authenticate(session, "hoa", PASSWORDS["hoa"], attempts=5, lock_minutes=15, now=after)


def test_users_unlock_of_an_unknown_name_says_so(cli, users):
    result = cli("users", "unlock", "khong-co")
    assert result.exit_code == 4 and "Không có người dùng 'khong-co'" in result.output


def test_users_list_on_a_new_workspace_says_how_to_add_one(run):
    result = run("users", "list")
    assert result.exit_code == 0, result.output
    assert "Chưa có người dùng. Thêm bằng: hotich users add" in result.output


def test_the_admin_page_unlocks_the_same_way(site, engine):
    guesser, admin = site("10.0.0.66"), site("10.0.0.2")
    for _ in range(5):
        log_in(guesser, "hoa", WRONG)
    assert logged_in(log_in(admin, "an", PASSWORDS["an"]))
    page = admin.get("/admin/users")
    assert "tạm khóa đến" in page.text
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    hoa = user_row(engine, "hoa")
    done = admin.post(f"/admin/users/{hoa.id}", data={"csrf_token": csrf, "action": "unlock"},
                      follow_redirects=False)
    assert done.status_code == 303
    (entry,) = audit_rows(engine, "user.unlock")
    assert (entry.actor, entry.detail["failures"]) == ("an", 5)
    assert logged_in(log_in(guesser, "hoa", PASSWORDS["hoa"]))
