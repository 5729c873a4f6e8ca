"""The command line's framework strings in Vietnamese: Click's (vendored by typer) and typer's.

Why a translation table rather than gettext: typer 0.29 vendors its own copy of Click with the
``gettext`` calls removed, so its messages ("Missing argument 'paths'.", "No such command",
"Show this message and exit.", "[required]") are plain literals. They are translated where
they are shown: each Click exception's ``format_message``, the help formatter's usage prefix,
the help option's text, and the constants typer's rich help reads at call time. A message the
table does not know is shown as it is, never hidden.

``install()`` changes these process-wide; the CLI calls it once at import, so CliRunner tests
see exactly what a user sees.

    >>> translate("Missing argument 'paths'.")
    "Thiếu tham số 'paths'."
    >>> translate("Invalid value for '--workers': Input should be greater than or equal to 0")
    "Giá trị không hợp lệ cho '--workers': phải lớn hơn hoặc bằng 0."
"""

from __future__ import annotations

import re
from functools import wraps

#: English message (a regular expression over the whole message) → Vietnamese; first match wins.
MESSAGES: list[tuple[str, str]] = [
    (r"Missing argument '(?P<a>[^']*)'\.", r"Thiếu tham số '\g<a>'."),
    (r"Missing option '(?P<a>[^']*)'\.", r"Thiếu tùy chọn bắt buộc '\g<a>'."),
    (r"Missing parameter '(?P<a>[^']*)'\.", r"Thiếu tham số '\g<a>'."),
    (r"Missing (?:argument|option|parameter)\.", "Thiếu tham số bắt buộc."),
    (r"No such command '(?P<a>[^']*)'\. Did you mean (?P<b>.*)\?",
     r"Không có lệnh '\g<a>'. Có phải ý bạn là \g<b>?"),
    (r"No such command '(?P<a>[^']*)'\.", r"Không có lệnh '\g<a>'. Xem các lệnh: hotich --help"),
    (r"No such option: (?P<a>\S+) Did you mean (?P<b>\S+)\?",
     r"Không có tùy chọn \g<a>. Có phải ý bạn là \g<b>?"),
    (r"No such option: (?P<a>\S+)(?: \(Possible options: (?P<b>.*)\))?",
     r"Không có tùy chọn \g<a>."),
    (r"Option '(?P<a>[^']*)' requires an argument\.", r"Tùy chọn '\g<a>' cần một giá trị."),
    (r"Option '(?P<a>[^']*)' requires (?P<n>\d+) arguments\.", r"Tùy chọn '\g<a>' cần \g<n> giá trị."),
    (r"Option '(?P<a>[^']*)' does not take a value\.", r"Tùy chọn '\g<a>' không nhận giá trị."),
    (r"Got unexpected extra arguments? \((?P<a>.*)\)", r"Thừa tham số: \g<a>"),
    (r"Invalid value for (?P<a>'[^']*'|[^:]+): (?P<b>.*)", r"Giá trị không hợp lệ cho \g<a>: \g<b>"),
    (r"Invalid value: (?P<b>.*)", r"Giá trị không hợp lệ: \g<b>"),
    (r"Invalid value\.", "Giá trị không hợp lệ."),
    (r"Aborted[.!]", "Đã dừng."),
]

#: Reasons inside "Invalid value for X: <reason>", from Click's parameter types.
REASONS: list[tuple[str, str]] = [
    (r"'?(?P<v>.*?)'? is not a valid integer( range)?\.", r"'\g<v>' không phải số nguyên."),
    (r"'?(?P<v>.*?)'? is not a valid float( range)?\.", r"'\g<v>' không phải số."),
    (r"'?(?P<v>.*?)'? is not a valid boolean\.", r"'\g<v>' không phải có/không."),
    (r"'?(?P<v>.*?)'? is not one of (?P<c>.*)\.", r"'\g<v>' không phải một trong \g<c>."),
    (r"'?(?P<v>.*?)'? is not (?P<c>.*)\.", r"'\g<v>' không phải \g<c>."),
    (r"(?P<v>\S+) is not in the range (?P<r>.*)\.", r"\g<v> nằm ngoài khoảng cho phép \g<r>."),
    # typer checks values with pydantic first
    (r"Input should be a valid integer.*", "phải là một số nguyên."),
    (r"Input should be a valid number.*", "phải là một số."),
    (r"Input should be a valid boolean.*", "phải là có hoặc không."),
    (r"Input should be greater than or equal to (?P<n>\S+)", r"phải lớn hơn hoặc bằng \g<n>."),
    (r"Input should be greater than (?P<n>\S+)", r"phải lớn hơn \g<n>."),
    (r"Input should be less than or equal to (?P<n>\S+)", r"phải nhỏ hơn hoặc bằng \g<n>."),
    (r"Input should be (?P<c>.*)", r"phải là \g<c>."),
    (r"(?P<k>File|Directory|Path) '(?P<p>.*)' does not exist\.", r"Không có \g<k> '\g<p>'."),
    (r"(?P<k>File|Directory|Path) '(?P<p>.*)' is a directory\.", r"'\g<p>' là một thư mục."),
    (r"(?P<k>File|Directory|Path) '(?P<p>.*)' is a file\.", r"'\g<p>' là một tệp, không phải thư mục."),
    (r"(?P<k>File|Directory|Path) '(?P<p>.*)' is not readable\.", r"Không đọc được '\g<p>'."),
    (r"(?P<k>File|Directory|Path) '(?P<p>.*)' is not writable\.", r"Không ghi được vào '\g<p>'."),
]
KINDS = {"File": "tệp", "Directory": "thư mục", "Path": "đường dẫn"}

#: typer's rich help constants (module globals it reads each time it prints).
RICH_STRINGS = {
    "DEPRECATED_STRING": "(không dùng nữa) ",
    "DEFAULT_STRING": "[mặc định: {}]",
    "ENVVAR_STRING": "[biến môi trường: {}]",
    "REQUIRED_LONG_STRING": "[bắt buộc]",
    "ARGUMENTS_PANEL_TITLE": "Tham số",
    "OPTIONS_PANEL_TITLE": "Tùy chọn",
    "COMMANDS_PANEL_TITLE": "Lệnh",
    "ERRORS_PANEL_TITLE": "Lỗi",
    "ABORTED_TEXT": "Đã dừng.",
    "RICH_HELP": "Xem [blue]'{command_path} {help_option}'[/] để biết cách dùng.",
}
USAGE = "Cách dùng: "
#: The usage line's placeholders.
METAVARS = {"[OPTIONS]": "[TÙY CHỌN]", "COMMAND [ARGS]...": "LỆNH [THAM SỐ]..."}
HELP_TEXT = "Hiện hướng dẫn này rồi thoát."
#: Type names typer shows beside each parameter (``<list[Path]>``), in words; None hides it.
TYPE_WORDS = {"str": "chữ", "int": "số", "float": "số", "bool": None, "Path": "đường dẫn",
              "path": "đường dẫn", "file": "tệp", "directory": "thư mục", "text": "chữ",
              "integer": "số"}


def translate(message: str) -> str:
    """``message`` from Click or typer in Vietnamese; unknown messages unchanged."""
    text = message.strip()
    for pattern, replacement in MESSAGES:
        match = re.fullmatch(pattern, text, flags=re.DOTALL)
        if match:
            out = match.expand(replacement)
            if "b" in match.groupdict() and match.group("b") and pattern.startswith("Invalid value"):
                out = out.replace(match.group("b"), _reason(match.group("b")))
            return out
    return _reason(text)


def _reason(text: str) -> str:
    for pattern, replacement in REASONS:
        match = re.fullmatch(pattern, text.strip(), flags=re.DOTALL)
        if match:
            out = match.expand(replacement)
            kind = match.groupdict().get("k")
            return out.replace(f" {kind} ", f" {KINDS[kind]} ") if kind else out
    return text


def type_words(label: str | None) -> str | None:
    """``<list[Path]>`` → ``<đường dẫn>…``; ``<bool>`` (a flag) → None."""
    if not label:
        return label
    match = re.fullmatch(r"<(list\[)?([\w ]+?)(\])?>(\.\.\.)?", label)
    if not match:
        return label
    word = TYPE_WORDS.get(match.group(2), match.group(2))
    if word is None:
        return None
    many = match.group(1) or match.group(4)
    return f"<{word}>" + ("…" if many else "")


_installed = False


def install() -> None:
    """Put the Vietnamese strings in place of Click's and typer's (idempotent)."""
    import typer.core
    import typer.rich_utils as rich_utils
    from typer import _click
    from typer._click import exceptions, formatting

    global _installed
    if _installed:
        return
    _installed = True
    for name, text in RICH_STRINGS.items():
        setattr(rich_utils, name, text)
    # The highlighter colours the usage prefix by its text.
    rich_utils.OptionHighlighter.highlights = [
        h.replace("Usage: ", USAGE) for h in rich_utils.OptionHighlighter.highlights]

    from typer.exceptions import TyperException

    for cls in [TyperException, *vars(exceptions).values()]:
        if isinstance(cls, type) and issubclass(cls, TyperException) and "format_message" in vars(cls):
            cls.format_message = _translated(vars(cls)["format_message"])

    collect = _click.core.Command.collect_usage_pieces

    @wraps(collect)
    def vietnamese_pieces(self, ctx):
        return [METAVARS.get(piece, piece) for piece in collect(self, ctx)]

    _click.core.Command.collect_usage_pieces = vietnamese_pieces
    group_collect = typer.core.TyperGroup.collect_usage_pieces

    @wraps(group_collect)
    def vietnamese_group_pieces(self, ctx):
        return [METAVARS.get(piece, piece) for piece in group_collect(self, ctx)]

    typer.core.TyperGroup.collect_usage_pieces = vietnamese_group_pieces

    write_usage = formatting.HelpFormatter.write_usage

    @wraps(write_usage)
    def vietnamese_usage(self, prog, args="", prefix=None):
        return write_usage(self, prog, args, USAGE if prefix is None else prefix)

    formatting.HelpFormatter.write_usage = vietnamese_usage

    get_help_option = _click.core.Command.get_help_option

    @wraps(get_help_option)
    def vietnamese_help_option(self, ctx):
        option = get_help_option(self, ctx)
        if option is not None:
            option.help = HELP_TEXT
        return option

    _click.core.Command.get_help_option = vietnamese_help_option

    for cls in (typer.core.TyperArgument, typer.core.TyperOption):
        cls.display_type_rich = _typed(cls.display_type_rich)


def _translated(format_message):
    @wraps(format_message)
    def wrapper(self) -> str:
        return translate(format_message(self))
    return wrapper


def _typed(display_type_rich):
    @wraps(display_type_rich)
    def wrapper(self, ctx):
        return type_words(display_type_rich(self, ctx))
    return wrapper
