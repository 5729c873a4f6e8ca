"""The review web app: FastAPI routes over the plain functions of this package.

Routes only parse, check the role and the CSRF token, call pipeline.review.*, and render a
Jinja2 template. Every page and every action checks the user's role here, on the server.
Pages are served with a strict Content-Security-Policy (scripts and styles from /static only;
htmx is vendored in the package, as these offices are often offline) and ``no-store``.
The server log has method, path, status and time only: ids, never names or values.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from pipeline.errors import BadInput, Forbidden, HotichError, LoginRequired, NotAllowed, NotFound
from pipeline.review import actions, auth
from pipeline.review.config import ReviewSettings, get_review_settings
from pipeline.review.crops import field_crop, page_image
from pipeline.review.links import LinkConflict
from pipeline.review.progress import book_progress, throughput
from pipeline.review.queue import (
    Claims, STATUS_LABELS, next_record, postponed_records, queue_counts, queue_position,
)
from pipeline.review.screen import SOURCE_WORDS, display_value, record_screen
from pipeline.settings import Settings, get_settings
from pipeline.storage.audit import audit
from pipeline.storage.db import session_scope
from pipeline.storage.models import Book, FieldValue, Page, Record, User
from pipeline.storage.versions import VersionConflict

HERE = Path(__file__).resolve().parent
COOKIE = "hotich_session"
LOGIN_CSRF_COOKIE = "hotich_login_csrf"
log = logging.getLogger("hotich.review")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "object-src 'none'")


def create_app(engine: Engine, settings: Settings | None = None,
               review: ReviewSettings | None = None) -> FastAPI:
    """The review app over ``engine``; ``settings`` give the workspace (scans, image cache).

        >>> import uvicorn
        >>> uvicorn.run(create_app(make_engine()), host="127.0.0.1", port=8000)  # doctest: +SKIP
    """
    settings = settings or get_settings()
    review = review or get_review_settings()
    app = FastAPI(title="hotich — duyệt", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(STATUS_LABELS=STATUS_LABELS, SOURCE_WORDS=SOURCE_WORDS,
                                 ROLE_LABELS=auth.ROLE_LABELS)
    templates.env.filters["vntime"] = _vn_time
    claims = Claims()

    # ---- plumbing --------------------------------------------------------------------

    @app.middleware("http")
    async def headers_and_log(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if not request.url.path.startswith(("/static/", "/img/")):
            response.headers.setdefault("Cache-Control", "no-store")
        # Path only: query strings could carry search text one day; bodies never logged.
        log.info("%s %s %s %.0fms", request.method, request.url.path, response.status_code,
                 (time.perf_counter() - started) * 1000)
        return response

    def render(request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context, status_code=status)

    def _principal(request: Request) -> auth.Principal | None:
        with session_scope(engine) as s:
            return auth.principal_for(s, request.cookies.get(COOKIE))

    def need(role: str):
        async def dependency(request: Request) -> auth.Principal:
            principal = await run_in_threadpool(_principal, request)
            if principal is None:
                raise LoginRequired()
            request.state.principal = principal
            if request.method not in ("GET", "HEAD"):
                sent = request.headers.get("x-csrf-token")
                if sent is None and "form" in request.headers.get("content-type", ""):
                    sent = (await request.form()).get("csrf_token")
                if not auth.csrf_ok(principal, sent):
                    raise Forbidden("Yêu cầu bị từ chối: thiếu hoặc sai mã bảo vệ biểu mẫu (CSRF). "
                                    "Tải lại trang rồi thử lại.")
            if not principal.can(role):
                raise Forbidden(f"Trang này dành cho vai trò {auth.ROLE_LABELS[role]}; "
                                f"bạn là {auth.ROLE_LABELS.get(principal.role, principal.role)}.")
            return principal
        return dependency

    reviewer, supervisor, admin = need("reviewer"), need("supervisor"), need("admin")

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired):
        if request.headers.get("hx-request") or request.method != "GET":
            return Response("Cần đăng nhập", status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        return render(request, "message.html", {"title": "Không có quyền", "message": exc.message,
                                                "principal": getattr(request.state, "principal", None)}, 403)

    @app.exception_handler(HotichError)
    async def _hotich_error(request: Request, exc: HotichError):
        status = 404 if isinstance(exc, NotFound) else 409 if isinstance(
            exc, (VersionConflict, actions.RecordConflict, LinkConflict)) else 422 if isinstance(
            exc, BadInput) else 403 if isinstance(exc, NotAllowed) else 400
        return render(request, "message.html", {"title": "Không thực hiện được", "message": str(exc),
                                                "principal": getattr(request.state, "principal", None)},
                      status)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        return Response(status_code=204)

    # ---- login -----------------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/queue", error: str | None = None):
        import secrets

        token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
        response = render(request, "login.html", {"next": _safe_next(next), "error": error,
                                                  "login_csrf": token, "principal": None})
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                            secure=review.secure_cookie, path="/login")
        return response

    @app.post("/login")
    def login(request: Request, name: str = Form(""), password: str = Form(""),
              csrf_token: str = Form(""), next: str = Form("/queue")):
        import hmac

        cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
        if not cookie or not hmac.compare_digest(cookie, csrf_token):
            raise Forbidden("Yêu cầu bị từ chối: thiếu mã bảo vệ biểu mẫu (CSRF). Tải lại trang "
                            "đăng nhập rồi thử lại.")
        refused = None
        with session_scope(engine, write_lock=True) as s:
            try:
                user = auth.authenticate(s, name.strip(), password, attempts=review.lockout_attempts,
                                         lock_minutes=review.lockout_minutes,
                                         address=request.client.host if request.client else None)
                token = auth.open_session(s, user, hours=review.session_hours)
            except auth.LoginRefused as exc:
                # Caught inside the transaction so that it commits: the failure count, the
                # lock and the audit row of a refused login are what stop the guessing.
                refused = exc
        if refused is not None:
            throttled = isinstance(refused, auth.LoginThrottled)
            page = render(request, "login.html", {"next": _safe_next(next), "error": str(refused),
                                                  "login_csrf": cookie, "name": name,
                                                  "principal": None}, 429 if throttled else 401)
            if throttled:
                page.headers["Retry-After"] = str(max(1, int(refused.retry_after.total_seconds())))
            return page
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict",
                            secure=review.secure_cookie, max_age=int(review.session_hours * 3600))
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    @app.post("/logout")
    def logout(request: Request, principal: auth.Principal = Depends(reviewer)):
        with session_scope(engine, write_lock=True) as s:
            auth.close_session(s, request.cookies.get(COOKIE))
            audit(s, principal.name, "logout", "user", principal.user_id)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    # ---- queue -----------------------------------------------------------------------

    @app.get("/")
    def home(principal: auth.Principal = Depends(reviewer)):
        return RedirectResponse("/queue", status_code=303)

    @app.get("/queue", response_class=HTMLResponse)
    def queue_page(request: Request, done: int = 0, principal: auth.Principal = Depends(reviewer)):
        with session_scope(engine) as s:
            books = queue_counts(s, principal)
            total = sum(b.waiting for b in books)
            return render(request, "queue.html", {"principal": principal, "books": books,
                                                  "total": total, "done": done,
                                                  "waiting": total})

    @app.get("/review/next")
    def review_next(book: int | None = None, principal: auth.Principal = Depends(reviewer)):
        record_id = None
        with session_scope(engine) as s:
            for _ in range(20):  # another reviewer may take the one we found: ask again
                record_id = next_record(s, principal, book_id=book, skip=claims.others(principal.name))
                if record_id is None or claims.take(record_id, principal.name):
                    break
        if record_id is None:
            return RedirectResponse("/queue?done=1", status_code=303)
        suffix = f"?book={book}" if book else ""
        return RedirectResponse(f"/records/{record_id}{suffix}", status_code=303)

    @app.get("/search", response_class=HTMLResponse)
    def search_page(request: Request, q: str = "", principal: auth.Principal = Depends(reviewer)):
        """The same search as ``hotich search``; the query is never logged (it holds names)."""
        from pipeline.search.query import search_records

        hits, complete, message = [], True, None
        if q.strip():
            with session_scope(engine) as s:
                try:
                    result = search_records(s, q[:200])
                    complete = result.complete
                    # dates as the books write them (12/03/1968), like the record screen
                    hits = [{**vars(h), "birth_date": display_value("date", h.birth_date)}
                            for h in result.hits]
                except BadInput as exc:
                    message = str(exc)
        return render(request, "search.html", {"principal": principal, "q": q, "hits": hits,
                                               "complete": complete, "message": message})

    @app.get("/exceptions", response_class=HTMLResponse)
    def exceptions_page(request: Request, principal: auth.Principal = Depends(reviewer)):
        with session_scope(engine) as s:
            records = postponed_records(s, principal)
            rows = [{"id": r.id, "key": r.record_key, "book": r.book_id, "note": r.review_note,
                     "page": r.page.page_no if r.page else None, "row": r.row,
                     "assigned": r.assigned_to} for r in records]
            return render(request, "exceptions.html", {"principal": principal, "rows": rows,
                                                       "waiting": queue_position(s, principal)})

    # ---- the record screen -----------------------------------------------------------

    def _record_context(s, principal, record_id: int, book: int | None, **extra) -> dict:
        screen = record_screen(s, record_id)
        others = claims.others(principal.name) | {record_id}
        upcoming = next_record(s, principal, book_id=book, skip=others)
        prefetch = []
        if upcoming is not None and upcoming != record_id:
            prefetch = [f"/img/fields/{fv_id}.jpg" for fv_id in s.scalars(
                select(FieldValue.id).where(FieldValue.record_id == upcoming,
                                            FieldValue.is_current.is_(True),
                                            FieldValue.box_x0.is_not(None)))]
        return {"principal": principal, "s": screen, "book_filter": book, "prefetch": prefetch,
                "waiting": queue_position(s, principal),
                "holder": claims.holder(record_id, principal.name), **extra}

    @app.get("/records/{record_id}", response_class=HTMLResponse)
    def record_page(request: Request, record_id: int, book: int | None = None,
                    principal: auth.Principal = Depends(reviewer)):
        with session_scope(engine) as s:
            context = _record_context(s, principal, record_id, book)
        claims.claim(record_id, principal.name)
        return render(request, "record.html", context)

    def _field_row(request, record_id: int, field: str, status: int = 200, **extra):
        with session_scope(engine) as s:
            screen = record_screen(s, record_id)
            fv = next((f for f in screen.fields if f.field == field), None)
            if fv is None:
                raise NotFound(f"Bản ghi {record_id} không có trường {field}")
            return render(request, "_field.html", {"f": fv, "s": screen, "principal":
                                                   request.state.principal, **extra}, status)

    @app.post("/records/{record_id}/fields/{field}", response_class=HTMLResponse)
    def field_action(request: Request, record_id: int, field: str, action: str = Form("accept"),
                     value: str = Form(""), version: int = Form(...), source: str = Form("review"),
                     principal: auth.Principal = Depends(reviewer)):
        try:
            with session_scope(engine, write_lock=True) as s:
                actions.save_field(s, record_id, field, action=action, text=value,
                                   expected_version=version, user=principal.name, source=source)
        except VersionConflict:
            with session_scope(engine) as s:
                theirs = s.scalar(select(FieldValue).where(
                    FieldValue.record_id == record_id, FieldValue.field == field,
                    FieldValue.is_current.is_(True)))
                who = (theirs.changed_by if theirs else None) or "người khác"
            return _field_row(request, record_id, field, 409, conflict=True, mine=value,
                              message=f"{who} vừa sửa trường này (giá trị mới ở ô trên). "
                                      f"Giá trị bạn nhập chưa được lưu: «{value}». "
                                      f"Enter để giữ giá trị mới, hoặc nhập lại.")
        except (BadInput, actions.RecordConflict) as exc:
            return _field_row(request, record_id, field, 422, error=True, typed={field: value},
                              message=str(exc))
        return _field_row(request, record_id, field, saved=True)

    @app.get("/records/{record_id}/fields/{field}/history", response_class=HTMLResponse)
    def field_history(request: Request, record_id: int, field: str,
                      principal: auth.Principal = Depends(reviewer)):
        with session_scope(engine) as s:
            rows = actions.history_rows(s, record_id, field)
            screen = record_screen(s, record_id)
            fv = next((f for f in screen.fields if f.field == field), None)
            return render(request, "_history.html", {"rows": rows, "field": field, "f": fv,
                                                     "s": screen, "principal": principal})

    @app.post("/records/{record_id}/fields/{field}/restore")
    def field_restore(record_id: int, field: str, version: int = Form(...),
                      expected_version: int = Form(...), principal: auth.Principal = Depends(supervisor)):
        with session_scope(engine, write_lock=True) as s:
            actions.restore_version(s, record_id, field, version, user=principal.name,
                                    role=principal.role, expected_version=expected_version)
        return RedirectResponse(f"/records/{record_id}#f-{field}", status_code=303)

    @app.post("/records/{record_id}/confirm", response_class=HTMLResponse)
    async def record_confirm(request: Request, record_id: int,
                             principal: auth.Principal = Depends(reviewer)):
        form = await request.form()
        fields = {}
        for key, text in form.items():
            if key.startswith("value."):
                name = key[len("value."):]
                fields[name] = (str(text), int(form.get(f"version.{name}", "0") or 0))
        book = _int(form.get("book"))
        lock_version = _int(form.get("lock_version")) or 0
        link = str(form.get("link") or "") or None

        def work():
            try:
                with session_scope(engine, write_lock=True) as s:
                    actions.confirm_record(s, record_id, user=principal.name, lock_version=lock_version,
                                           fields=fields, link_choice=link)
            except actions.ConfirmConflict as exc:
                with session_scope(engine) as s:
                    mine = {c.field: c.mine for c in exc.conflicts}
                    return render(request, "record.html", _record_context(
                        s, principal, record_id, book, conflicts=mine, banner=str(exc)), 409)
            except (actions.RecordConflict, LinkConflict, BadInput) as exc:
                with session_scope(engine) as s:
                    typed = {name: text for name, (text, _) in fields.items()}
                    status = 422 if isinstance(exc, BadInput) else 409
                    return render(request, "record.html", _record_context(
                        s, principal, record_id, book, typed=typed, banner=str(exc),
                        link_choice=link), status)
            claims.release(record_id, principal.name)
            suffix = f"?book={book}" if book else ""
            return RedirectResponse(f"/review/next{suffix}", status_code=303)

        return await run_in_threadpool(work)

    @app.post("/records/{record_id}/postpone")
    def record_postpone(record_id: int, note: str = Form(""), lock_version: int = Form(0),
                        book: str = Form(""), principal: auth.Principal = Depends(reviewer)):
        with session_scope(engine, write_lock=True) as s:
            actions.postpone_record(s, record_id, user=principal.name, lock_version=lock_version,
                                    note=note)
        claims.release(record_id, principal.name)
        suffix = f"?book={book}" if _int(book) else ""
        return RedirectResponse(f"/review/next{suffix}", status_code=303)

    @app.post("/records/{record_id}/approve")
    def record_approve(record_id: int, lock_version: int | None = Form(None),
                       principal: auth.Principal = Depends(supervisor)):
        with session_scope(engine, write_lock=True) as s:
            actions.approve_record(s, record_id, user=principal.name, role=principal.role,
                                   lock_version=lock_version)
        return RedirectResponse(f"/records/{record_id}", status_code=303)

    @app.post("/records/{record_id}/requeue")
    def record_requeue(record_id: int, principal: auth.Principal = Depends(supervisor)):
        with session_scope(engine, write_lock=True) as s:
            actions.requeue_record(s, record_id, user=principal.name, role=principal.role)
        return RedirectResponse("/exceptions", status_code=303)

    # ---- images ----------------------------------------------------------------------

    def _image(path: Path) -> FileResponse:
        return FileResponse(path, media_type="image/jpeg",
                            headers={"Cache-Control": "private, max-age=86400"})

    @app.get("/img/pages/{page_id}.jpg")
    def page_jpeg(page_id: int, principal: auth.Principal = Depends(reviewer)):
        with session_scope(engine) as s:
            page = s.get(Page, page_id)
            if page is None:
                raise NotFound(f"Không có trang {page_id}")
            path = page_image(settings, page, review.page_preview_width)
        return _image(path)

    @app.get("/img/fields/{fv_id}.jpg")
    def field_jpeg(fv_id: int, principal: auth.Principal = Depends(reviewer)):
        with session_scope(engine) as s:
            fv = s.get(FieldValue, fv_id)
            record = s.get(Record, fv.record_id) if fv else None
            if fv is None or record is None or record.page is None or fv.box_x0 is None:
                raise NotFound(f"Không có ảnh cho trường {fv_id}")
            path = field_crop(settings, record.page, (fv.box_x0, fv.box_y0, fv.box_x1, fv.box_y1))
        return _image(path)

    # ---- supervisor ------------------------------------------------------------------

    @app.get("/supervisor", response_class=HTMLResponse)
    def supervisor_page(request: Request, message: str | None = None,
                        principal: auth.Principal = Depends(supervisor)):
        with session_scope(engine) as s:
            reviewers = list(s.scalars(select(User.name).where(User.is_active.is_(True))
                                       .order_by(User.name)))
            return render(request, "supervisor.html", {
                "principal": principal, "books": book_progress(s), "days": throughput(s),
                "reviewers": reviewers, "message": message, "waiting": queue_position(s, principal)})

    @app.post("/books/{book_id}/approve")
    def book_approve(book_id: int, principal: auth.Principal = Depends(supervisor)):
        with session_scope(engine, write_lock=True) as s:
            book = s.get(Book, book_id)
            if book is None:
                raise NotFound(f"Không có sổ {book_id}")
            n = actions.approve_book(s, book.book_code, user=principal.name, role=principal.role)
            code = book.book_code
        return RedirectResponse(f"/supervisor?message={quote(f'Đã phê duyệt {n} bản ghi của sổ {code}')}",
                                status_code=303)

    @app.post("/books/{book_id}/assign")
    def book_assign(book_id: int, reviewer_name: str = Form(""),
                    principal: auth.Principal = Depends(supervisor)):
        with session_scope(engine, write_lock=True) as s:
            n = actions.assign_book(s, book_id, reviewer_name or None, user=principal.name,
                                    role=principal.role)
        who = reviewer_name or "mọi người"
        return RedirectResponse(f"/supervisor?message={quote(f'Đã giao {n} bản ghi cho {who}')}",
                                status_code=303)

    # ---- admin -----------------------------------------------------------------------

    @app.get("/admin/users", response_class=HTMLResponse)
    def users_page(request: Request, message: str | None = None,
                   principal: auth.Principal = Depends(admin)):
        with session_scope(engine) as s:
            users = list(s.scalars(select(User).order_by(User.name)))
            books = list(s.scalars(select(Book.book_code).order_by(Book.book_code)))
            return render(request, "admin.html", {"principal": principal, "users": users,
                                                  "books": books, "message": message,
                                                  "roles": auth.ROLES,
                                                  "waiting": queue_position(s, principal)})

    @app.post("/admin/users")
    def users_add(name: str = Form(...), role: str = Form(...), password: str = Form(...),
                  principal: auth.Principal = Depends(admin)):
        try:
            with session_scope(engine, write_lock=True) as s:
                auth.add_user(s, name, role, password, actor=principal.name)
        except BadInput as exc:
            return RedirectResponse(f"/admin/users?message={quote(str(exc))}", status_code=303)
        return RedirectResponse(f"/admin/users?message={quote(f'Đã thêm {name}')}", status_code=303)

    @app.post("/admin/users/{user_id}")
    def users_change(user_id: int, action: str = Form(...), role: str = Form(""),
                     password: str = Form(""), principal: auth.Principal = Depends(admin)):
        try:
            with session_scope(engine, write_lock=True) as s:
                user = s.get(User, user_id)
                if user is None:
                    raise NotFound(f"Không có người dùng {user_id}")
                if action == "role":
                    auth.set_role(s, user, role, actor=principal.name)
                elif action in ("disable", "enable"):
                    if user.id == principal.user_id:
                        raise BadInput("Không tự khóa tài khoản của mình được")
                    auth.set_active(s, user, action == "enable", actor=principal.name)
                elif action == "password":
                    auth.set_password(s, user, password, actor=principal.name)
                elif action == "unlock":
                    auth.unlock_user(s, user, actor=principal.name)
                else:
                    raise BadInput(f"Thao tác '{action}' không hợp lệ")
        except BadInput as exc:
            return RedirectResponse(f"/admin/users?message={quote(str(exc))}", status_code=303)
        return RedirectResponse("/admin/users?message=" + quote("Đã lưu"), status_code=303)

    @app.post("/admin/export")
    def admin_export(book: str = Form(""), principal: auth.Principal = Depends(admin)):
        from pipeline.export.records import export_records

        out = Path(tempfile.mkdtemp(prefix="hotich-export-")) / "approved.csv"
        n = export_records(engine, out, book_code=book or None, status="approved")
        with session_scope(engine, write_lock=True) as s:
            audit(s, principal.name, "export.records", "book", book or None, records=n,
                  status="approved", format="csv")
        name = f"ban-ghi-da-duyet-{book or 'tat-ca'}.csv"
        return FileResponse(out, media_type="text/csv; charset=utf-8", filename=name)

    return app


def _int(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _safe_next(target: str | None) -> str:
    """Only a path of this site: ``//evil.example`` and full URLs become the queue."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/queue"
    return target


def _vn_time(value) -> str:
    from datetime import timedelta, timezone

    if value is None:
        return ""
    return value.astimezone(timezone(timedelta(hours=7))).strftime("%d/%m/%Y %H:%M")
