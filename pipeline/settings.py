"""The one typed settings object: defaults, then environment (HOTICH_*), then CLI flags."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


WORKSPACE = Path("hotich-data")
#: Where workspaces were made before 2026-12 (the folder of the shipped reference data).
OLD_WORKSPACE = Path("data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTICH_", extra="ignore")

    home: Path = Field(
        default=WORKSPACE,
        description="Workspace folder: database, stored scans, exports. Not the package's "
        "`data/` folder, which holds the reference data it ships (a workspace there left "
        "runs' files among them); a workspace made there before keeps being used.",
    )
    db_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; SQLite at $HOTICH_HOME/hotich.db when unset.",
    )
    max_pixels: int = Field(
        default=120_000_000,
        description="Pages with more pixels than this are refused (decompression bombs, "
        "absurd scans); an A3 page at 600 dpi is about 70 Mpx.",
    )
    render_dpi: int = Field(default=300, description="DPI used to rasterize PDF pages.")
    workers: int = Field(default=2, description="Dask worker processes for `process`.")
    worker_memory: str = Field(
        default="1.5GiB", description="Memory limit of each Dask worker process."
    )
    worker_wait: float = Field(
        default=60.0, gt=0,
        description="Seconds `process --scheduler` waits for the scheduler to have a worker, "
        "at the start or after every worker left, before it stops with an error instead of "
        "waiting for ever.",
    )
    page_lease_seconds: float = Field(
        default=60.0, ge=1,
        description="How long a `process` run's claim on a page lasts unless renewed (a live "
        "run renews it every third of that). Concurrent runs, here or on other machines "
        "sharing the database, split a book by these claims; a killed run's pages are taken "
        "over by another run once its claims have run out.",
    )
    db_busy_timeout: float = Field(
        default=30.0, ge=0,
        description="Seconds a command waits for another process's write lock on the SQLite "
        "database (a review server and a batch share one file) before it stops with an error.",
    )
    ocr_model: Literal["fast", "best"] = Field(
        default="fast",
        description="Tesseract `vie` model: Debian's tessdata_fast, or tessdata_best (integer "
        "build, installed by scripts/install.sh). On the generated benchmark best was no more "
        "accurate after our preprocessing and 15 % slower, so fast is the default.",
    )
    second_reader: bool = Field(
        default=False,
        description="Read every unsure value crop a second time with the neural reader "
        "(asterocr, installed with hotich) and let the clean stage choose between the "
        "readings (plus, for names, a reading scored against the name lexicon). On "
        "bench/ocr.py's held-out half it reads 4-5 points more fields right (7-8 on "
        "hand-writing) but at about half the speed and +300 MB per worker, and accepts no "
        "more fields unseen: off by default until it pays for itself (issue 16). Without "
        "the package installed it is off whatever this says.",
    )
    accept_probability: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description="Calibrated probability of being right from which a field is accepted "
        "without a reviewer. Unset: the threshold fitted with the calibration "
        "(data/calibration/fields.json, 99.5 % precision on the benchmark's tune split). "
        "Lower it to review less and accept more mistakes.",
    )
    tessdata_best_dir: Path = Field(
        default=Path(sys.prefix) / "share" / "hotich" / "tessdata",
        description="Folder holding the tessdata_best `vie` model (and links to eng, osd).",
    )

    _old_workspace: bool = PrivateAttr(default=False)

    @model_validator(mode="after")
    def _keep_an_old_workspace(self) -> Settings:
        """A workspace made under the old default (``./data``) goes on being used when no new
        one exists, so moving the default loses nobody's database; ``old_workspace`` tells
        the CLI to say so."""
        if ("home" not in self.model_fields_set and not WORKSPACE.exists()
                and (OLD_WORKSPACE / "hotich.db").exists()):
            self.home = OLD_WORKSPACE
            self._old_workspace = True
        return self

    @property
    def old_workspace(self) -> bool:
        return self._old_workspace

    @property
    def database_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.home / 'hotich.db').resolve()}"

    @property
    def scan_store(self) -> Path:
        return self.home / "scans"


def get_settings() -> Settings:
    """Read afresh each time so that tests and long-lived servers see the current environment."""
    return Settings()
