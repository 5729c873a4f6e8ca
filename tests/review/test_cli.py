"""`hotich users add`, `hotich records approve`, `hotich review serve` through CliRunner."""

from __future__ import annotations

from sqlalchemy import select

from pipeline.settings import get_settings
from pipeline.storage.db import make_engine, session_scope
from pipeline.storage.models import AuditEntry, Record, User


def _engine():
    return make_engine(get_settings().database_url)


def test_users_add_reads_the_password_from_stdin_or_the_terminal(run):
    result = run("users", "add", "lan", "--role", "reviewer", "--password-stdin",
                 input="mat-khau-du-dai\n")
    assert result.exit_code == 0, result.output
    assert "Đã thêm người dùng lan" in result.output
    result = run("users", "add", "minh", "--role", "supervisor",
                 input="mat-khau-giam-sat\nmat-khau-giam-sat\n")
    assert result.exit_code == 0, result.output
    assert "mat-khau" not in result.output  # typed hidden
    with session_scope(_engine()) as s:
        users = {u.name: (u.role, u.password_hash[:9]) for u in s.scalars(select(User))}
    assert users == {"lan": ("reviewer", "$argon2id"), "minh": ("supervisor", "$argon2id")}


def test_users_add_refuses_bad_input_with_one_line(run):
    result = run("users", "add", "x", "--role", "boss", "--password-stdin", input="long-enough-1\n")
    assert result.exit_code == 2 and "Vai trò 'boss' không hợp lệ" in result.output
    result = run("users", "add", "y", "--role", "reviewer", "--password-stdin", input="short\n")
    assert result.exit_code == 2 and "ít nhất 8" in result.output


def test_records_approve_by_a_supervisor_is_audited(run, workspace):
    from pipeline.review.sample import seed_sample_book

    run("users", "add", "minh", "--role", "supervisor", "--password-stdin", input="mat-khau-giam-sat\n")
    run("users", "add", "lan", "--role", "reviewer", "--password-stdin", input="mat-khau-nguoi-duyet\n")
    sample = seed_sample_book(_engine(), get_settings(), with_population=False)
    result = run("records", "approve", "--book", sample.book_code, "--as", "lan")
    assert result.exit_code == 6 and "giám sát" in result.output
    result = run("records", "approve", "--book", sample.book_code, "--as", "minh")
    assert result.exit_code == 2 and "còn 2 bản ghi chờ duyệt" in result.output
    # Doubtful fields are counted and named before anything is approved, and a "no" (or no
    # answer, as in a script without --yes) approves nothing (issue 19 §4).
    result = run("records", "approve", "--book", sample.book_code, "--as", "minh", "--include-pending",
                 input="n\n")
    assert result.exit_code == 1, result.output
    flat = " ".join(result.output.split())
    assert "3 bản ghi sẽ được phê duyệt, trong đó 3 trường còn nghi ngờ" in flat
    assert "Họ và tên: 1" in flat and "Họ và tên mẹ: 1" in flat and "Chưa phê duyệt gì" in flat
    with session_scope(_engine()) as s:
        assert "approved" not in {r.status for r in s.scalars(select(Record))}
    result = run("records", "approve", "--book", sample.book_code, "--as", "minh", "--include-pending",
                 "--yes")
    assert result.exit_code == 0, result.output
    assert f"Đã phê duyệt 3 bản ghi của sổ {sample.book_code}" in result.output
    assert "3 trường còn nghi ngờ" in " ".join(result.output.split())
    with session_scope(_engine()) as s:
        assert {r.status for r in s.scalars(select(Record))} == {"approved"}
        entries = s.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.detail)
                            .where(AuditEntry.action.like("%approve"))).all()
    assert len(entries) == 4 and all(actor == "minh" for actor, _, _ in entries)
    assert {d.get("via") for _, _, d in entries} == {"cli"}
    assert run("records", "approve", "--book", "nope", "--as", "minh").exit_code == 4
    assert run("records", "approve", "--book", sample.book_code, "--as", "ghost").exit_code == 4


def test_review_serve_listens_on_localhost_by_default(run, monkeypatch):
    calls = {}

    def fake_serve(engine, settings, *, host=None, port=None):
        from pipeline.review.config import get_review_settings

        review = get_review_settings()
        calls["where"] = (host or review.host, port or review.port)

    monkeypatch.setattr("pipeline.review.serve.serve", fake_serve)
    result = run("review", "serve")
    assert result.exit_code == 0, result.output
    assert calls["where"] == ("127.0.0.1", 8000)
    assert "http://127.0.0.1:8000" in result.output
    run("review", "serve", "--host", "0.0.0.0", "--port", "8123")
    assert calls["where"] == ("0.0.0.0", 8123)


def test_review_serve_suggests_from_the_populations_names(engine, tmp_path, monkeypatch):
    """The server installs the lexicon learned at population import before it listens."""
    from pipeline.clean.lexicon import install_name_lexicon, name_lexicon
    from pipeline.match.population import import_population
    from pipeline.review import serve as serving
    from pipeline.settings import Settings

    population = tmp_path / "dan_cu.csv"
    population.write_text("citizen_id,full_name,sex,birth_date\n" + "".join(
        f"0400{i:08d},Nguyễn Văn Tèo,M,1970-01-01\n" for i in range(6)), encoding="utf-8")
    import_population(engine, population)
    seen = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: seen.update(lexicon=name_lexicon()))
    try:
        serving.serve(engine, Settings(home=tmp_path / "ws"))
        assert "Tèo" in seen["lexicon"].given and seen["lexicon"].source == "population"
    finally:
        install_name_lexicon(None)
    assert "Tèo" not in name_lexicon().given
