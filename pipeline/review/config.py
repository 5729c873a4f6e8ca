"""Settings of the review app (HOTICH_REVIEW_*), beside the pipeline's own settings."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReviewSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTICH_REVIEW_", extra="ignore")

    host: str = Field(default="127.0.0.1", description="Address to listen on; localhost "
                      "unless told otherwise (SPEC §7: personal data).")
    port: int = Field(default=8000, description="TCP port.")
    session_hours: float = Field(default=10.0, description="A login lasts this long "
                                 "(one working day) unless the reviewer logs out.")
    lockout_attempts: int = Field(default=5, description="Failed logins in a row that lock "
                                  "an account.")
    lockout_minutes: float = Field(default=15.0, description="How long a locked account "
                                   "stays locked.")
    secure_cookie: bool = Field(default=False, description="Send the session cookie only "
                                "over HTTPS; set it when a reverse proxy serves the app "
                                "over TLS (the default plain-HTTP localhost needs it off).")
    page_preview_width: int = Field(default=1800, description="Width in pixels of the "
                                    "whole-page image shown to reviewers.")


def get_review_settings() -> ReviewSettings:
    return ReviewSettings()
