"""hotich command line: parses arguments, calls pipeline.*, shows progress. No logic lives here."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
import typer.core
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from pipeline.cli_text import install as _vietnamese_framework_strings
from pipeline.errors import HotichError
from pipeline.paths import BOOK_CODE_RULE
from pipeline.settings import get_settings

_vietnamese_framework_strings()  # Click's and typer's own messages and help, in Vietnamese

class HotichGroup(typer.core.TyperGroup):
    """Turns a HotichError from any command into one line on stderr and its exit code.

    Done here rather than in ``main`` so that CliRunner tests see exactly what a user sees.
    """

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except HotichError as exc:
            if VERBOSE:
                raise
            err_console.print(f"Lỗi: {exc}", soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("Đã dừng. Chạy lại cùng lệnh để tiếp tục.")
            raise typer.Exit(130) from None
        except Exception as exc:
            # A full disk, a read-only workspace, a database locked too long: the
            # surroundings failed, not hotich; one line naming the path. Anything else is a bug.
            from pipeline.storage.faults import explain_fault

            fault = explain_fault(exc, database_url=get_settings().database_url)
            if fault is None or VERBOSE:
                raise
            err_console.print(f"Lỗi: {fault}", soft_wrap=True)
            raise typer.Exit(fault.exit_code) from None


app = typer.Typer(
    cls=HotichGroup,
    help="hotich — số hóa sổ hộ tịch trước 1990: quét, OCR, chuẩn hóa, đối chiếu dân cư, xuất dữ liệu.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold citizens' personal data
    add_completion=False,
)
population_app = typer.Typer(help="Dữ liệu dân cư (công dân) để đối chiếu.", no_args_is_help=True)
records_app = typer.Typer(help="Bản ghi hộ tịch đã trích xuất.", no_args_is_help=True)
users_app = typer.Typer(help="Người dùng của ứng dụng duyệt.", no_args_is_help=True)
review_app = typer.Typer(help="Ứng dụng duyệt trên trình duyệt.", no_args_is_help=True)
export_app = typer.Typer(help="Xuất dữ liệu: gói nộp CSDL hộ tịch điện tử, XML kết quả OCR của trang.",
                         no_args_is_help=True)
app.add_typer(population_app, name="population")
app.add_typer(records_app, name="records")
app.add_typer(users_app, name="users")
app.add_typer(review_app, name="review")
app.add_typer(export_app, name="export")

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
VERBOSE = False


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="In chi tiết lỗi (traceback).")):
    global VERBOSE
    VERBOSE = verbose
    if get_settings().old_workspace:  # made under the old default, the shipped data/ folder
        err_console.print("Ghi chú: đang dùng không gian làm việc cũ ./data; mặc định nay là "
                          "./hotich-data (chuyển thư mục sang đó, hoặc đặt HOTICH_HOME=data "
                          "để giữ nguyên và tắt ghi chú này).")


def _db():
    from pipeline.storage.db import make_engine

    return make_engine(get_settings().database_url)


def _ready_db():
    """The database, created or upgraded first: every command works on a fresh workspace."""
    from pipeline.storage.db import init_db

    db = _db()
    init_db(db)
    return db


def _print_table(table: Table) -> None:
    """Print ``table`` with every value whole: a column is never narrower than its widest value
    or the longest word of its header, so headers wrap at spaces and nothing ends in "…".
    Written to a file or a pipe (no terminal to fit), the table is as wide as it needs."""
    import io

    from rich.measure import Measurement

    for column in table.columns:
        words = max((len(word) for word in str(column.header).split()), default=0)
        values = max((len(str(cell)) for cell in column.cells), default=0)
        column.min_width = max(column.min_width or 0, words, values)
    if console.is_terminal:
        console.print(table)
        return
    widest = Measurement.get(console, console.options.update(max_width=10_000), table).maximum
    width = console.width
    while width < widest:  # rich may lay a table out wider than asked: try until it fits
        probe = Console(file=io.StringIO(), width=width, highlight=False)
        probe.print(table, crop=False)
        if max(map(len, probe.file.getvalue().splitlines()), default=0) <= width:
            break
        width += 1
    console.print(table, width=width, crop=False)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False)


@app.command()
def init():
    """Tạo hoặc nâng cấp cơ sở dữ liệu."""
    from pipeline.storage.db import current_revision, init_db

    settings = get_settings()
    db = _db()
    init_db(db)
    console.print(f"Cơ sở dữ liệu sẵn sàng (phiên bản lược đồ {current_revision(db)}): {db.url.render_as_string(hide_password=True)}")
    console.print(f"Thư mục làm việc: {settings.home.resolve()}")


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(..., help="Tệp PDF, TIFF, JPEG, PNG hoặc thư mục."),
    template: str = typer.Option(..., "--template", help="Tên mẫu sổ (birth_form, birth_ledger, marriage_form, death_ledger …) hoặc auto: nhận ra từ tiêu đề và kẻ bảng của trang đầu."),
    commune: str = typer.Option(..., "--commune", help="Xã / phường / thị trấn."),
    district: str = typer.Option(..., "--district", help="Huyện / quận / thị xã."),
    province: str = typer.Option(..., "--province", help="Tỉnh / thành phố."),
    year: str = typer.Option(..., "--year", help="Năm của sổ (1978) hoặc khoảng năm (1976-1980)."),
    volume: str = typer.Option(..., "--volume", help="Quyển số."),
    book_id: Optional[str] = typer.Option(None, "--book-id", help=f"Mã sổ của kho lưu trữ (tự tạo nếu bỏ trống): {BOOK_CODE_RULE}."),
    force_template: bool = typer.Option(
        False, "--force-template",
        help="Nhận theo --template dù tiêu đề hoặc kẻ bảng của trang đầu cho thấy mẫu sổ khác."),
    also_in: bool = typer.Option(
        False, "--also-in",
        help="Nhận cả tệp quét đã có trong sổ khác (kho lưu trữ thật sự giữ cùng bản quét trong hai sổ)."),
):
    """Đăng ký một quyển sổ và nhập các tệp quét của nó (mỗi tệp lưu một lần theo mã băm).

    Mẫu sổ được đối chiếu với tiêu đề và kẻ bảng của trang đầu; đường dẫn không có, mẫu sổ
    không khớp, tệp đã có trong sổ khác đều bị từ chối trước khi tạo gì.
    """
    from pipeline.ingest import BookInfo, expand_paths, ingest_files

    settings = get_settings()
    db = _ready_db()
    info = BookInfo(template, commune, district, province, year, volume, book_id)
    files = expand_paths(paths)
    with _progress() as progress:
        task = progress.add_task("Nhập tệp quét", total=len(files))

        def on_file(path: Path, error: str | None) -> None:
            if error:
                progress.console.print(f"[red]LỖI[/red] {error}")
            progress.advance(task)

        outcome = ingest_files(db, settings, info, paths, force_template=force_template,
                               also_in=also_in, on_file=on_file)
    for warning in outcome.warnings:
        err_console.print(f"[yellow]Lưu ý[/yellow] {warning}", soft_wrap=True)
    if template == "auto":
        console.print(f"Nhận ra mẫu sổ: {outcome.template}")
    console.print(
        f"Sổ {outcome.book_code}: thêm {outcome.added_files} tệp, {outcome.added_pages} trang; "
        f"{outcome.already_present} tệp đã có; {len(outcome.failures)} tệp lỗi."
    )
    if outcome.failures:
        console.print("Tệp lỗi đã được ghi lại; sửa tệp rồi chạy lại cùng lệnh để thử lại.")
        raise typer.Exit(1)


@app.command()
def process(
    book: Optional[str] = typer.Option(None, "--book", help="Chỉ xử lý sổ này (mã sổ)."),
    workers: Optional[int] = typer.Option(None, "--workers", min=0, help="Số tiến trình OCR song song (0: chạy tuần tự trong tiến trình này)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Địa chỉ bộ điều phối Dask có sẵn, ví dụ tcp://10.0.0.5:8786."),
    recheck: bool = typer.Option(False, "--recheck", help="Đọc lại cả các trang cần xem lại mà chưa ai duyệt (sau khi sửa mẫu sổ); bản ghi cũ của trang được thay."),
):
    """Tiền xử lý → OCR → trích xuất → chuẩn hóa các trang chưa xong; chạy lại để tiếp tục."""
    from pipeline.ocr.tesseract import check_tesseract
    from pipeline.scans import require_poppler

    settings = get_settings()
    check_tesseract()
    require_poppler()
    db = _ready_db()
    summary = _run_process(db, settings, book_code=book, workers=settings.workers if workers is None else workers,
                           scheduler=scheduler, recheck=recheck)
    if summary.failed:
        raise typer.Exit(1)


def _page_progress(progress: Progress):
    """Callbacks for process_books: a bar over pages, each failed page as one red line."""
    task = progress.add_task("Xử lý trang", total=None)

    def on_start(total: int, executor: str) -> None:
        progress.update(task, total=total, description=f"Xử lý trang ({executor})" if executor else "Xử lý trang")

    def on_page(result) -> None:
        if result.error:
            progress.console.print(f"[red]LỖI[/red] {result.error}")
        progress.advance(task)

    return on_start, on_page


def _run_process(db, settings, **kwargs):
    from pipeline.process import process_books

    with _progress() as progress:
        on_start, on_page = _page_progress(progress)
        shown: list[int] = []

        def on_wait(pages, until) -> None:  # other runs hold pages; said once per count
            if pages not in shown:
                shown.append(pages)
                ends = f" (hết hạn giữ lúc {until.astimezone():%H:%M:%S} nếu lần đó đã dừng)" if until else ""
                progress.console.print(f"Chờ {pages} trang do lần chạy khác đang xử lý{ends}.")

        summary = process_books(db, settings, on_start=on_start, on_page=on_page, on_wait=on_wait, **kwargs)
    reasons = "; ".join(f"{n} × {reason}" for reason, n in summary.failed_by_reason.most_common())
    attention = f", {summary.attention} trang cần xem lại" if summary.attention else ""
    console.print(f"Xong: {summary.succeeded} trang thành công{attention}, {summary.failed} trang lỗi"
                  f"{' (' + reasons + ')' if reasons else ''}; {summary.records} bản ghi mới.")
    if summary.attention:
        console.print("Xem lý do: hotich status (trang cần xem lại đã được lưu và nằm trong hàng chờ duyệt).")
    if summary.kept:
        console.print(f"{summary.kept} trang cần xem lại có bản ghi đã được duyệt: không đọc lại.")
    if summary.elsewhere:
        console.print(f"{summary.elsewhere} trang đã được lần chạy khác lưu trước: không ghi lại.")
    if summary.interrupted:
        console.print(f"{summary.interrupted} lần chạy trước đã dừng giữa chừng: phần việc dở đã được làm tiếp.")
    return summary


@population_app.command("import")
def population_import(
    file: Path = typer.Argument(..., help="Tệp CSV hoặc XLSX."),
    map_: list[str] = typer.Option([], "--map", help="Ánh xạ tiêu đề: COT=truong (lặp lại được)."),
    encoding: Optional[str] = typer.Option(
        None, "--encoding", help="Bảng mã, khi không muốn tự nhận: utf-8, cp1258, tcvn3, vni, viscii."),
):
    """Nhập dữ liệu dân cư (công dân); nhập lại cùng tệp không thay đổi gì.

    Bảng mã (UTF-8, TCVN3/ABC, VNI, CP1258, VISCII) được tự nhận ra và chuyển sang Unicode.
    """
    from pipeline.encodings import check_choice, describe
    from pipeline.match.population import import_population, parse_mapping

    check_choice(encoding)
    db = _ready_db()
    mapping = parse_mapping(map_)
    with _progress() as progress:
        task = progress.add_task("Nhập dân cư (dòng)", total=None)
        outcome = import_population(db, file, mapping=mapping, encoding=encoding,
                                    on_chunk=lambda n: progress.advance(task, n))
    console.print(f"Bảng mã: {describe(outcome.encoding)}")
    for line in outcome.errors[:20]:
        err_console.print(f"[yellow]Bỏ qua[/yellow] {line}")
    if outcome.error_count > 20:
        err_console.print(f"... và {outcome.error_count - 20} dòng lỗi khác")
    for line in outcome.warnings[:20]:
        err_console.print(f"[cyan]Cảnh báo[/cyan] {line} (vẫn nhập)")
    if outcome.warning_count > 20:
        err_console.print(f"... và {outcome.warning_count - 20} cảnh báo khác")
    console.print(f"{outcome.file}: {outcome.rows} dòng, thêm {outcome.inserted}, cập nhật {outcome.updated}, "
                  f"không đổi {outcome.unchanged}, bỏ qua {outcome.error_count} dòng lỗi, "
                  f"{outcome.warning_count} cảnh báo (mã hóa {outcome.encoding}).")


@app.command()
def match(book: Optional[str] = typer.Option(None, "--book", help="Chỉ đối chiếu sổ này.")):
    """Đối chiếu bản ghi khai sinh với dữ liệu dân cư."""
    from pipeline.match.run import match_books

    summary = match_books(_ready_db(), book_code=book, home=get_settings().home)
    console.print(f"{summary.records} bản ghi: {summary.auto} liên kết tự động, {summary.review} cần xem xét, "
                  f"{summary.no_match} không tìm thấy; giữ nguyên {summary.kept_decisions} quyết định của người duyệt.")
    if summary.expected_precision is not None:
        share = f"{100 * summary.expected_precision:.2f} %".replace(".", ",")
        raised = ("" if summary.min_score is None else
                  f"; để giữ mức ≥ 99,5 %, chỉ liên kết tự động từ {summary.min_score:.1f} bit".replace(".", ","))
        console.print(f"Độ chính xác ước tính của liên kết tự động (theo mô hình học trên chính dữ liệu này): "
                      f"{share}{raised}.")
    if summary.model_file:
        console.print(f"Mô hình đối chiếu của lần chạy: {summary.model_file}")


@records_app.command("import")
def records_import(
    file: Path = typer.Argument(..., help="Tệp CSV hoặc XLSX, tên cột chuẩn (như `records export`)."),
    book_type: str = typer.Option(..., "--book-type", help="Loại sổ: birth (khai sinh), marriage (kết hôn), death (khai tử)."),
    book_id: Optional[str] = typer.Option(None, "--book-id", help=f"Mã sổ (tự tạo từ xã, huyện, tỉnh, năm, quyển nếu bỏ trống): {BOOK_CODE_RULE}."),
    commune: Optional[str] = typer.Option(None, "--commune", help="Xã / phường / thị trấn (khi tạo sổ mới)."),
    district: Optional[str] = typer.Option(None, "--district", help="Huyện / quận / thị xã (khi tạo sổ mới)."),
    province: Optional[str] = typer.Option(None, "--province", help="Tỉnh / thành phố (khi tạo sổ mới)."),
    year: Optional[str] = typer.Option(None, "--year", help="Năm của sổ (1978) hoặc khoảng năm (1976-1980)."),
    volume: Optional[str] = typer.Option(None, "--volume", help="Quyển số."),
    encoding: Optional[str] = typer.Option(
        None, "--encoding", help="Bảng mã, khi không muốn tự nhận: utf-8, cp1258, tcvn3, vni, viscii."),
):
    """Nhập bản ghi do xã đã đánh máy (CSV / XLSX); sau đó đối chiếu, duyệt, xuất như bản ghi OCR.

    Cột record_id được giữ nguyên và xuất lại; nhập lại cùng tệp không thay đổi gì, ô đã sửa
    thành phiên bản mới, trừ trường người duyệt đã sửa (giữ giá trị của người duyệt).
    """
    from pipeline.ingest import BookInfo
    from pipeline.encodings import check_choice, describe
    from pipeline.records_import import import_records

    check_choice(encoding)
    info = BookInfo("", commune or "", district or "", province or "", year or "", volume or "", book_id)
    db = _ready_db()
    with _progress() as progress:
        task = progress.add_task("Nhập bản ghi", total=None)
        outcome = import_records(db, file, book_type=book_type, book=info, encoding=encoding,
                                 on_start=lambda total: progress.update(task, total=total),
                                 on_row=lambda: progress.advance(task))
    console.print(f"Sổ {outcome.book_code}; bảng mã: {describe(outcome.encoding)}")
    if outcome.ignored_columns:
        err_console.print(f"[cyan]Bỏ qua cột không biết[/cyan]: {', '.join(outcome.ignored_columns)}", soft_wrap=True)
    for kind, lines, colour in (("Bỏ qua", outcome.errors, "yellow"), ("Xung đột", outcome.conflicts, "red"),
                                ("Lưu ý", outcome.notices, "cyan")):
        for line in lines[:20]:
            err_console.print(f"[{colour}]{kind}[/{colour}] {line}", soft_wrap=True)
        if len(lines) > 20:
            err_console.print(f"... và {len(lines) - 20} dòng khác")
    console.print(f"Đã nhập {outcome.inserted + outcome.updated} bản ghi ({outcome.inserted} mới, "
                  f"{outcome.updated} cập nhật), {outcome.unchanged} không đổi, {outcome.error_count} dòng lỗi, "
                  f"{len(outcome.conflicts)} xung đột.")


@records_app.command("export")
def records_export(
    file: Path = typer.Argument(..., help="Tệp .csv hoặc .xlsx."),
    book: Optional[str] = typer.Option(None, "--book", help="Chỉ xuất sổ này."),
    status: Optional[str] = typer.Option(
        None, "--status", help="Chỉ xuất bản ghi có trạng thái này: extracted, needs_review, postponed, "
                               "reviewed, approved, exported."),
    field_status: bool = typer.Option(False, "--field-status", help="Thêm cột <trường>_status."),
    book_type: Optional[str] = typer.Option(
        None, "--book-type", help="Chỉ xuất sổ loại này: birth (khai sinh), marriage (kết hôn), death (khai tử); "
                                  "cần khi không có --book mà có sổ nhiều loại."),
):
    """Xuất bản ghi theo các cột chuẩn của loại sổ (SPEC §4); mỗi lần xuất được ghi vào nhật ký.

    Mỗi loại sổ (khai sinh, kết hôn, khai tử) có cột riêng; tệp xuất nhập lại được bằng
    `records import` với cùng --book-type.
    """
    from pipeline.export.records import export_records
    from pipeline.storage.audit import audit
    from pipeline.storage.db import session_scope

    db = _ready_db()
    n = export_records(db, file, book_code=book, status=status, field_status=field_status,
                       book_type=book_type)
    with session_scope(db) as session:  # SPEC §7: every export is in the audit log, as the web's is
        audit(session, "system:cli", "export.records", "book", book, records=n, status=status,
              format=file.suffix.lower().lstrip("."), file=file.name)
    console.print(f"Đã xuất {n} bản ghi vào {file}")


@records_app.command("approve")
def records_approve(
    book: str = typer.Option(..., "--book", help="Mã sổ cần phê duyệt."),
    as_user: str = typer.Option(..., "--as", help="Tên người giám sát phê duyệt (ghi vào nhật ký)."),
    include_pending: bool = typer.Option(
        False, "--include-pending",
        help="Phê duyệt cả bản ghi còn chờ duyệt (sổ đã được nhập và kiểm tra ở nơi khác)."),
    yes: bool = typer.Option(False, "--yes", "-y",
                             help="Không hỏi lại khi còn trường nghi ngờ (cho script)."),
):
    """Phê duyệt cả quyển sổ (giám sát); mỗi bản ghi được ghi vào nhật ký như khi duyệt trên web.

    Trước khi phê duyệt, lệnh cho biết bao nhiêu trường còn nghi ngờ (chưa ai xác nhận) sẽ được
    phê duyệt theo, và hỏi lại trừ khi có --yes; khi xuất, cột Ghi chú ghi rõ từng trường đó.
    """
    from pipeline.report.figures import format_count as n_
    from pipeline.review.actions import approve_book, preview_book_approval
    from pipeline.review.auth import get_user, require_role
    from pipeline.storage.db import session_scope

    db = _ready_db()
    with session_scope(db) as session:
        user = get_user(session, as_user)
        require_role(user.role, "supervisor", "phê duyệt cả quyển sổ")
        plan = preview_book_approval(session, book)
    if plan.doubtful_fields and (include_pending or not plan.pending):
        console.print(f"Sổ {book}: {n_(plan.records)} bản ghi sẽ được phê duyệt, trong đó "
                      f"{n_(plan.doubtful_fields)} trường còn nghi ngờ, chưa ai xác nhận "
                      f"({plan.doubtful_text()}). Cột Ghi chú của tệp xuất sẽ ghi rõ từng trường.",
                      soft_wrap=True)
        if not yes and not typer.confirm("Vẫn phê duyệt? (y: có, n: không)", default=False):
            console.print("Chưa phê duyệt gì.")
            raise typer.Exit(1)
    with session_scope(db, write_lock=True) as session:
        n = approve_book(session, book, user=user.name, role=user.role,
                         include_pending=include_pending, via="cli")
    console.print(f"Đã phê duyệt {n_(n)} bản ghi của sổ {book} (người phê duyệt: {as_user}"
                  + (f"; {n_(plan.doubtful_fields)} trường còn nghi ngờ" if plan.doubtful_fields else "")
                  + ").")


@users_app.command("add")
def users_add(
    name: str = typer.Argument(..., help="Tên đăng nhập."),
    role: str = typer.Option(..., "--role", help="reviewer (người duyệt), supervisor (giám sát) hoặc admin (quản trị)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Đọc mật khẩu từ đầu vào chuẩn (cho script)."),
):
    """Thêm người dùng; mật khẩu được hỏi trên màn hình và lưu bằng argon2."""
    import sys

    from pipeline.review.auth import add_user
    from pipeline.storage.db import session_scope

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Mật khẩu", hide_input=True, confirmation_prompt="Nhập lại mật khẩu")
    with session_scope(_ready_db(), write_lock=True) as session:
        add_user(session, name, role, password, actor="system:cli")
    console.print(f"Đã thêm người dùng {name} ({role}).")


@users_app.command("list")
def users_list():
    """Liệt kê người dùng: vai trò, số lần đăng nhập sai liên tiếp, tài khoản đang bị tạm khóa."""
    from datetime import timedelta, timezone

    from pipeline.review.auth import ROLE_LABELS, list_accounts
    from pipeline.storage.db import session_scope

    with session_scope(_ready_db()) as session:
        accounts = list_accounts(session)
    if not accounts:
        console.print("Chưa có người dùng. Thêm bằng: hotich users add TÊN --role reviewer|supervisor|admin")
        return
    vietnam = timezone(timedelta(hours=7))
    table = Table(title="Người dùng")
    table.add_column("Tên đăng nhập", no_wrap=True)
    table.add_column("Vai trò")
    table.add_column("Đăng nhập sai", justify="right")
    table.add_column("Khóa đến", no_wrap=True)
    table.add_column("Trạng thái")
    for a in accounts:
        locked = a.locked_until.astimezone(vietnam).strftime("%d/%m/%Y %H:%M") if a.locked_until else "—"
        state = "đã vô hiệu hóa" if not a.is_active else "tạm khóa" if a.locked_until else "hoạt động"
        table.add_row(a.name, ROLE_LABELS.get(a.role, a.role), str(a.failed_logins), locked, state)
    _print_table(table)
    if any(a.locked_until for a in accounts):
        console.print("Mở khóa: hotich users unlock TÊN")


@users_app.command("unlock")
def users_unlock(name: str = typer.Argument(..., help="Tên đăng nhập.")):
    """Mở khóa tài khoản bị khóa do đăng nhập sai nhiều lần (đặt lại số lần sai); ghi vào nhật ký."""
    from pipeline.review.auth import get_user, unlock_user
    from pipeline.storage.db import session_scope

    with session_scope(_ready_db(), write_lock=True) as session:
        unlock_user(session, get_user(session, name), actor="system:cli")
    console.print(f"Đã mở khóa người dùng {name}.")


@review_app.command("serve")
def review_serve(
    host: Optional[str] = typer.Option(None, "--host", help="Địa chỉ lắng nghe (mặc định 127.0.0.1: chỉ máy này)."),
    port: Optional[int] = typer.Option(None, "--port", help="Cổng (mặc định 8000)."),
):
    """Chạy ứng dụng duyệt trên trình duyệt (mặc định http://127.0.0.1:8000)."""
    from pipeline.review.serve import serve

    console.print(f"Ứng dụng duyệt: http://{host or '127.0.0.1'}:{port or 8000}  (Ctrl+C để dừng)")
    serve(_ready_db(), get_settings(), host=host, port=port)


@review_app.command("export")
def review_export(
    file: Path = typer.Argument(..., help="Tệp .xlsx sẽ tạo; ảnh vùng đọc vào thư mục TÊN_anh bên cạnh."),
    book: Optional[str] = typer.Option(None, "--book", help="Chỉ xuất hàng chờ của sổ này (mã sổ)."),
    commune: Optional[str] = typer.Option(None, "--commune", help="Chỉ xuất sổ của xã / phường này."),
    as_user: Optional[str] = typer.Option(None, "--as", help="Người xuất (ghi vào nhật ký)."),
):
    """Xuất hàng chờ duyệt ra Excel để duyệt không cần máy chủ (mỗi dòng một trường cần xem)."""
    from pipeline.review.auth import get_user
    from pipeline.review.offline import export_review
    from pipeline.storage.db import session_scope

    db = _ready_db()
    actor = "system:cli"
    if as_user:
        with session_scope(db) as session:
            actor = get_user(session, as_user).name
    with console.status("Đang xuất hàng chờ và cắt ảnh…"):
        summary = export_review(db, get_settings(), file, book_code=book, commune=commune, actor=actor)
    console.print(f"Đã xuất {summary.rows} trường cần xem của {summary.records} bản ghi vào {file}; "
                  f"{summary.crops} ảnh trong {summary.image_dir}"
                  + (f" ({summary.missing_crops} trường không có ảnh)" if summary.missing_crops else "") + ".")
    if summary.link_only:
        console.print(f"{summary.link_only} bản ghi chỉ chờ quyết định liên kết công dân: duyệt trên web.")
    console.print("Gửi kèm cả thư mục ảnh; sau khi điền cột «Giá trị sửa», chạy "
                  f"`hotich review import {file.name} --as TÊN_NGƯỜI_DUYỆT`.")


@review_app.command("import")
def review_import(
    file: Path = typer.Argument(..., help="Tệp .xlsx do `hotich review export` tạo, đã điền cột «Giá trị sửa»."),
    as_user: str = typer.Option(..., "--as", help="Người duyệt đã điền tệp (vai trò người duyệt trở lên)."),
):
    """Nhập kết quả duyệt từ Excel: mỗi ô đã điền thành một phiên bản mới của trường.

    Trường đã được sửa ở nơi khác sau khi xuất bị từ chối (không ghi đè); nhập lại cùng tệp
    không thay đổi gì. Báo cáo ghi vào TÊN_ketqua.csv bên cạnh tệp. Thoát mã 1 khi có dòng
    bị từ chối hoặc lỗi.
    """
    from pipeline.review.offline import APPLIED, ALREADY, BAD, OUTCOME_WORDS, REJECTED, UNCHANGED, import_review

    with console.status("Đang nhập kết quả duyệt…"):
        report = import_review(_ready_db(), file, reviewer=as_user)
    counts = report.counts
    console.print(f"{file.name}: {report.rows} dòng; áp dụng {counts[APPLIED]}, đã có từ trước {counts[ALREADY]}, "
                  f"không thay đổi {counts[UNCHANGED]}, bị từ chối {counts[REJECTED]}, lỗi {counts[BAD]}, "
                  f"chưa điền {report.empty}; {report.confirmed} bản ghi đã duyệt xong (người duyệt: {as_user}).")
    shown = 10
    for kind, colour in ((APPLIED, "green"), (ALREADY, "cyan"), (UNCHANGED, "cyan"),
                         (REJECTED, "yellow"), (BAD, "red")):
        rows = report.of_kind(kind)
        for o in rows[:shown]:
            detail = f": {o.detail}" if o.detail else ""
            console.print(f"[{colour}]{OUTCOME_WORDS[kind].capitalize()}[/{colour}] dòng {o.excel_row}: "
                          f"{o.record_key} · {o.label}{detail}", soft_wrap=True)
        if len(rows) > shown:
            console.print(f"... và {len(rows) - shown} dòng khác ({OUTCOME_WORDS[kind]})")
    console.print(f"Báo cáo đầy đủ: {report.report_file}")
    if counts[REJECTED] or counts[BAD]:
        raise typer.Exit(1)


@export_app.command("national")
def export_national(
    out_dir: Path = typer.Argument(..., help="Thư mục nộp; mỗi lần xuất là một thư mục con <mã lô>."),
    book: Optional[str] = typer.Option(None, "--book", help="Chỉ xuất sổ này (mã sổ)."),
    sign: Optional[Path] = typer.Option(
        None, "--sign", help="Tệp chứng thư số PKCS#12 (.p12/.pfx) để ký manifest.json (chữ ký CMS tách rời, "
                             "manifest.json.p7s). Mật khẩu: biến HOTICH_SIGN_PASSWORD, nếu không có thì hỏi."),
    as_user: Optional[str] = typer.Option(
        None, "--as", help="Người xuất: phải là người dùng có vai trò admin (quản trị). Bỏ trống: ghi là "
                           "cli:<tài khoản hệ điều hành> (người ngồi tại máy chủ trung tâm)."),
):
    """Xuất bản ghi đã phê duyệt cho CSDL hộ tịch điện tử: mỗi sổ <sổ>.xlsx và <sổ>.zip (một PDF màu mỗi đăng ký), cùng manifest.json (mã băm SHA-256 mọi tệp).

    Chỉ xuất bản ghi mới hoặc đã thay đổi kể từ lần xuất trước; mỗi lần xuất được ghi vào cơ sở dữ liệu và nhật ký.

    Chỉ quản trị (admin) được xuất: --as TÊN phải là admin; không có --as thì người xuất là tài khoản hệ điều hành đang chạy lệnh (cli:<tên>), người ngồi tại máy chủ trung tâm.

    Lần xuất bị dừng giữa chừng được đối soát khi chạy lại cùng lệnh: lô đã ghi đủ và khớp mã băm được ghi nhận, phần dở dang bị xóa, thư mục không khớp được chuyển sang .khong-ghi-nhan; mỗi việc một dòng ở đây và trong nhật ký. Không bản ghi nào được xuất hai lần.
    """
    import os

    from pipeline.export.national import NOTHING_NEW, STEPS, export_national as run_export, resolve_exporter
    from pipeline.export.signing import load_signer
    from pipeline.storage.db import session_scope

    db = _ready_db()
    with session_scope(db) as session:
        actor = resolve_exporter(session, as_user)
    signer = None
    if sign is not None:
        password = os.environ.get("HOTICH_SIGN_PASSWORD")
        if password is None:
            password = typer.prompt("Mật khẩu tệp chứng thư", hide_input=True, default="", show_default=False)
        signer = load_signer(sign, password)
    with _progress() as progress:
        task = progress.add_task("Xuất bản ghi (PDF)", total=None)
        outcome = run_export(db, get_settings(), out_dir, actor=actor, book_code=book, signer=signer,
                             on_start=lambda total: progress.update(task, total=total),
                             on_entry=lambda: progress.advance(task),
                             on_step=lambda step: progress.update(task, description=STEPS[step]),
                             on_reconcile=lambda line: progress.console.print(
                                 f"[yellow]ĐỐI SOÁT[/yellow] {line}", soft_wrap=True))
    for line in outcome.skipped[:20]:
        err_console.print(f"[yellow]BỎ QUA[/yellow] {line}", soft_wrap=True)
    if len(outcome.skipped) > 20:
        err_console.print(f"... và {len(outcome.skipped) - 20} bản ghi khác bị bỏ qua")
    if outcome.batch_key is None:
        console.print(f"Không xuất gì: {NOTHING_NEW} kể từ lần xuất trước "
                      f"({outcome.unchanged} bản ghi đã xuất, không đổi).")
    else:
        for b in outcome.books:
            if b.files:
                console.print(f"Sổ {b.book_code}: {b.new} mới, {b.changed} thay đổi → {', '.join(b.files)}")
        console.print(f"Lô {outcome.batch_key}: đã xuất {outcome.exported} bản ghi ({outcome.new} mới, "
                      f"{outcome.changed} thay đổi; {outcome.unchanged} không đổi không xuất lại)"
                      + (f", đã ký ({outcome.signer})" if outcome.signed else "") + ".")
        console.print(f"Thư mục: {outcome.folder}", soft_wrap=True)
        console.print(f"Kiểm tra: hotich export verify {outcome.folder}", soft_wrap=True)
    if outcome.skipped:
        console.print(f"{len(outcome.skipped)} bản ghi bị bỏ qua (không đọc được ảnh quét); "
                      "sửa rồi chạy lại cùng lệnh để xuất chúng.")
        raise typer.Exit(1)


@export_app.command("verify")
def export_verify(
    out_dir: Path = typer.Argument(..., help="Thư mục một lô (có manifest.json) hoặc thư mục nộp chứa các lô."),
    ca_file: Optional[Path] = typer.Option(
        None, "--ca", help="Chứng thư gốc (PEM) để kiểm tra cả chuỗi chứng thư của người ký."),
):
    """Kiểm tra gói xuất: mã băm SHA-256 của từng tệp theo manifest.json và chữ ký (openssl cms -verify).

    Với thư mục nộp chứa nhiều lô: còn báo lỗi khi cùng một phiên bản bản ghi có trong hai lô (xuất hai lần).
    """
    from pipeline.export.national import verify_export

    checks = verify_export(out_dir, ca_file=ca_file)
    signature_words = {"valid": "chữ ký hợp lệ", "invalid": "chữ ký KHÔNG hợp lệ", "absent": "không có chữ ký"}
    for check in checks:
        for problem in check.problems:
            err_console.print(f"[red]LỖI[/red] {check.folder.name}: {problem}", soft_wrap=True)
        chain = " (chưa kiểm tra chuỗi chứng thư)" if check.signature == "valid" and ca_file is None else ""
        console.print(f"Lô {check.batch_id or check.folder.name}: {check.files_ok} tệp khớp mã băm, "
                      f"{len(check.problems)} lỗi; {signature_words[check.signature]}{chain}.")
    bad = [c for c in checks if not c.ok]
    if bad:
        console.print(f"Gói xuất KHÔNG toàn vẹn: {len(bad)}/{len(checks)} lô có lỗi.")
        raise typer.Exit(1)
    console.print(f"Gói xuất toàn vẹn: {len(checks)} lô.")


@export_app.command("pages")
def export_pages(
    out_dir: Path = typer.Argument(..., help="Thư mục ghi XML (mỗi sổ một thư mục con, mỗi trang page-NNNN.xml)."),
    book: Optional[str] = typer.Option(None, "--book", help="Chỉ xuất sổ này."),
    fmt: str = typer.Option(..., "--format", help="alto (ALTO 4.4) hoặc page (PAGE 2019-07-15)."),
):
    """Xuất kết quả OCR của từng trang dưới dạng ALTO hoặc PAGE XML (có giá trị đã sửa) cho hệ thống lưu trữ."""
    from pipeline.export.pages import check_format
    from pipeline.export.pages import export_pages as run_export

    fmt = check_format(fmt)
    db = _ready_db()
    with _progress() as progress:
        task = progress.add_task(f"Xuất {fmt.upper()} XML", total=None)

        def on_page(book_code: str, page_no: int, reason: str | None) -> None:
            if reason:
                progress.console.print(f"[yellow]BỎ QUA[/yellow] sổ {book_code} trang {page_no}: {reason}")
            progress.advance(task)

        summary = run_export(db, out_dir, fmt=fmt, book_code=book,
                             on_start=lambda total: progress.update(task, total=total), on_page=on_page)
    console.print(f"Xong: {summary.written} tệp ghi mới, {summary.unchanged} tệp không đổi "
                  f"({summary.books} sổ, {summary.corrected_fields} trường đã sửa); "
                  f"{len(summary.skipped)} trang chưa có kết quả OCR bị bỏ qua. Thư mục: {out_dir}")


@app.command()
def search(
    query: Optional[str] = typer.Argument(
        None, help='Ví dụ: "nguyen van an 1968", "Hùng 1970 cha Nguyễn Văn Bình", "Lan mẹ Hoa xã Hưng Dũng".'),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="Số kết quả tối đa."),
    reindex: bool = typer.Option(False, "--reindex", help="Lập lại toàn bộ chỉ mục tìm kiếm từ giá trị hiện tại."),
):
    """Tìm bản ghi theo họ tên (có hoặc không dấu), năm sinh, tên cha mẹ, xã."""
    from pipeline.errors import BadInput
    from pipeline.search.query import search_records
    from pipeline.storage.db import session_scope
    from pipeline.storage.search_index import index_missing, rebuild_index

    db = _ready_db()
    stale = not reindex and index_missing(db)
    if reindex or stale:
        if stale:
            console.print("Chỉ mục tìm kiếm chưa được lập; đang lập lần đầu.")
        with _progress() as progress:
            task = progress.add_task("Lập chỉ mục tìm kiếm", total=None)
            rows = rebuild_index(db, on_progress=lambda done, total: progress.update(
                task, completed=done, total=total))
        console.print(f"Đã lập chỉ mục tìm kiếm: {rows} mục.")
    if not query or not query.strip():
        if reindex:
            return
        raise BadInput("Chưa nhập nội dung cần tìm", hint='ví dụ: hotich search "nguyen van an 1968"')
    with session_scope(db) as session:
        result = search_records(session, query, limit)
    if not result.hits:
        console.print("Không tìm thấy bản ghi nào.")
        return
    table = Table(title=f"Kết quả tìm kiếm: {query.strip()}")
    table.add_column("Mã bản ghi", no_wrap=True)
    table.add_column("Sổ", no_wrap=True)
    for column in ("Trang", "Dòng"):
        table.add_column(column, justify="right")
    for column in ("Họ và tên", "Ngày sinh", "Họ tên cha", "Họ tên mẹ", "Xã"):
        table.add_column(column)
    table.add_column("Điểm", justify="right")
    for h in result.hits:
        table.add_row(h.record_key, h.book_code, str(h.page or ""), str(h.row or ""), h.name or "",
                      h.birth_date or "", h.father_name or "", h.mother_name or "", h.commune,
                      f"{h.score:g}".replace(".", ","))
    _print_table(table)
    if not result.complete:
        console.print(f"Truy vấn rất rộng: chỉ xét {result.candidates} bản ghi khớp đầu tiên. "
                      "Thêm năm sinh, tên cha mẹ hoặc xã để thu hẹp.")


@app.command()
def status():
    """Tiến độ theo tỉnh, huyện, xã và quyển sổ: trang, bản ghi, đối chiếu, trường, lỗi (như `hotich report`)."""
    from rich.markup import escape

    from pipeline.report.figures import AreaFigures, collect_figures, format_count as n, format_share

    figures = collect_figures(_ready_db(), timeline=False, confidence=False)
    if not figures.books:
        console.print("Chưa có sổ nào. Dùng `hotich ingest` để nhập sổ.")
        return
    rows = [("  " * depth + item.label, item.counts, "bold") if isinstance(item, AreaFigures)
            else ("  " * depth + item.book_code, item, None) for depth, item in figures.rows()]
    if len(figures.provinces) > 1:
        rows.append(("Tổng cộng", figures.totals, "bold"))
    # The book code is what every other command takes: never truncate it.
    width = max(len(label) for label, _, _ in rows)
    pages = Table(title="Trang đã quét")
    pages.add_column("Đơn vị / Sổ", no_wrap=True, min_width=width)
    for column in ("Trang", "Xong", "Cần xem", "Lỗi", "Chờ"):
        pages.add_column(column, justify="right")
    # Every record in exactly one of the five state columns: they add up to "Bản ghi".
    records = Table(title="Bản ghi", caption="Mỗi bản ghi ở đúng một cột từ Chờ duyệt đến Phê duyệt. "
                    "Đọc chắc: không trường nào nghi ngờ; Đọc chắc và Đã duyệt chờ phê duyệt. "
                    "Đã xuất: một phần của Phê duyệt.")
    records.add_column("Đơn vị / Sổ", no_wrap=True, min_width=width)
    for column in ("Bản ghi", "Chờ duyệt", "Ngoại lệ", "Đọc chắc", "Đã duyệt", "Phê duyệt", "Đã xuất"):
        records.add_column(column, justify="right")
    quality = Table(title="Đối chiếu dân cư, trường và số đăng ký")
    quality.add_column("Đơn vị / Sổ", no_wrap=True, min_width=width)
    for column in ("Khớp dân cư", "Tự động", "Xác nhận", "Sửa", "Nghi ngờ", "Số thiếu", "Số lặp"):
        quality.add_column(column, justify="right")
    for label, c, style in rows:
        pages.add_row(label, n(c.pages), n(c.pages_done), n(c.pages_attention), n(c.pages_failed), n(c.pages_pending),
                      style=style)
        records.add_row(label, n(c.records), n(c.waiting), n(c.postponed), n(c.ready), n(c.reviewed),
                        n(c.approved), n(c.exported), style=style)
        quality.add_row(label, format_share(c.match_rate), n(c.fields_auto), n(c.fields_confirmed),
                        n(c.fields_corrected), n(c.fields_doubtful), n(c.numbers_missing),
                        n(c.number_repeats), style=style)
    _print_table(pages)
    _print_table(records)
    _print_table(quality)
    for b in figures.books:
        for failure in b.failures:
            console.print(f"[red]{escape(b.book_code)}[/red] {escape(failure)}")
        for page in b.attention:
            console.print(f"[yellow]{escape(b.book_code)}[/yellow] {escape(page.line)}", soft_wrap=True)
        for finding in b.numbering:
            console.print(f"[yellow]{escape(b.book_code)}[/yellow] {escape(finding)}", soft_wrap=True)


@app.command()
def report(out: Path = typer.Argument(..., metavar="OUT.html", help="Tệp HTML cần ghi, ví dụ bao-cao.html.")):
    """Báo cáo tiến độ thành một tệp HTML độc lập (không cần mạng): số liệu theo tỉnh, huyện,
    xã, quyển sổ; trang lỗi; số đăng ký bị thiếu; biểu đồ tiến độ và độ tin cậy OCR."""
    from pipeline.errors import BadInput
    from pipeline.report.render import write_report

    if out.exists() and out.is_dir():
        raise BadInput(f"{out} là một thư mục", hint="cho tên tệp, ví dụ bao-cao.html")
    with console.status("Đang tổng hợp số liệu và vẽ biểu đồ…"):
        figures = write_report(_ready_db(), out)
    t = figures.totals
    console.print(f"Đã ghi báo cáo: {out} ({len(figures.books)} sổ, {t.pages} trang, {t.records} bản ghi).",
                  soft_wrap=True)


@app.command()
def demo(
    workers: int = typer.Option(2, "--workers", min=0, help="Số tiến trình OCR song song (0: tuần tự)."),
    seed: int = typer.Option(2026, "--seed", help="Hạt giống sinh sổ mẫu."),
):
    """Tạo sổ mẫu và dữ liệu dân cư mẫu, chạy toàn bộ chuỗi xử lý và báo độ chính xác."""
    from pipeline.demo import run_demo
    from pipeline.ocr.tesseract import check_tesseract
    from pipeline.report.figures import format_share
    from pipeline.scans import require_poppler

    settings = get_settings()
    check_tesseract()
    require_poppler()
    db = _db()
    with _progress() as progress:
        on_start, on_page = _page_progress(progress)
        outcome = run_demo(db, settings, workers=workers, seed=seed, say=progress.console.print,
                           on_process_start=on_start, on_page=on_page)
    table = Table(title="Kết quả chạy thử so với dữ liệu gốc",
                  caption="Trường: giá trị chuẩn hóa đúng / mọi trường; Có chữ: chỉ trường có viết; "
                          "Liên kết: tự động (đúng)")
    table.add_column("Sổ", no_wrap=True, min_width=max(len(b.book_code) for b in outcome.books))
    for column in ("Kiểu", "Trang", "Bản ghi", "Trường", "Có chữ", "Đúng hết", "Liên kết"):
        table.add_column(column)
    for b in outcome.books:
        a = b.accuracy
        links = f"{b.links.auto_links} ({b.links.auto_right})" if b.links else "—"
        table.add_row(b.book_code, b.layout, str(b.pages), f"{a.records_found}/{a.records}",
                      format_share(a.field_accuracy), format_share(a.nonempty_accuracy),
                      f"{a.records_all_right}/{a.records}", links)
    _print_table(table)
    total = outcome.accuracy
    console.print(f"Độ chính xác trường (giá trị chuẩn hóa): {format_share(total.field_accuracy)} trên "
                  f"{total.fields} trường; trường có chữ: {format_share(total.nonempty_accuracy)}.")
    worst = ", ".join(outcome.worst_fields())
    if worst:
        console.print(f"Trường sai nhiều nhất: {worst}")
    console.print(f"Đã xuất {outcome.exported} bản ghi: {outcome.export_path}")
    console.print("Xem tiến độ: hotich status")


def main() -> None:
    """Console entry point (`hotich`)."""
    app()


if __name__ == "__main__":
    main()
