"""The one settings object: every process (CLI, workers, API) reads its defaults from here.

Values come from environment variables prefixed `HDRTV_` (e.g. `HDRTV_DEVICE=cuda`,
`HDRTV_CHUNK_FRAMES=120`); command-line options override them for one run. The conversion
defaults are the fields `options.py` declares; the rest configure the services.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .options import SETTINGS_FIELDS, ConversionOptions, fields_model

ConversionDefaults = fields_model("ConversionDefaults", SETTINGS_FIELDS, base=BaseSettings)
"""The conversion options' fields that settings give defaults for, as `options.py` declares them."""


class Settings(ConversionDefaults):
    """Conversion defaults (`options.SETTINGS_FIELDS`), then the services' settings."""

    model_config = SettingsConfigDict(env_prefix="HDRTV_")

    # Services: job records and the Celery broker, the object store, the API.
    environment: Literal["development", "production"] = Field(
        "development", description="production refuses default secrets"
    )
    redis_url: str = Field("redis://localhost:6379/0", description="job records, chunk bookkeeping")
    broker_url: str | None = Field(None, description="Celery broker; default: redis_url")
    s3_endpoint_url: str | None = Field(None, description="any S3-compatible endpoint; None: AWS")
    s3_region: str = Field("us-east-1")
    s3_addressing: Literal["path", "virtual"] = Field("path", description="bucket in the path or the host name")
    allowed_buckets: list[str] = Field(default_factory=list, description="buckets jobs may use; empty: any")
    allow_file_uris: bool = Field(False, description="accept file:// URIs (embedded mode only)")
    scratch_dir: str | None = Field(None, description="local working space of workers; None: the system's")
    looks_dir: str | None = Field(
        None, description="folder of the looks `hdrtv looks create` makes; None: ~/.local/share/hdrtv/looks"
    )
    callback_signing_key: str = Field("development-signing-key", description="HMAC key of job callbacks")
    allow_private_callbacks: bool = Field(
        False, description="send callbacks to private, loopback and link-local addresses (tests, closed networks)"
    )
    callback_timeout_s: float = Field(10.0, gt=0, description="connect and read timeout of one callback request")
    max_queued_jobs_per_tenant: int = Field(1000, ge=1)
    max_input_bytes: int = Field(
        1 << 40, ge=1, description="larger inputs fail their job before a byte is fetched (workers' scratch space)"
    )
    chunk_time_limit_s: int = Field(3600, ge=60, description="hard limit of one chunk task")
    heartbeat_ttl_s: int = Field(
        45, ge=2, description="a running chunk or assembly whose heartbeat is this old counts as lost"
    )
    sweep_interval_s: float = Field(15.0, gt=0, description="how often one CPU worker looks for lost steps")
    sweep_grace_s: float = Field(
        300.0, ge=0, description="a step enqueued this recently is not re-enqueued (it may still wait in a queue)"
    )
    api_host: str = Field("127.0.0.1")
    api_port: int = Field(8000)
    max_request_bytes: int = Field(
        1 << 20, ge=1024, description="largest request body the API reads; larger ones are refused with 413"
    )
    s3_connect_timeout_s: float = Field(3.0, gt=0, description="seconds to open a connection to the object store")
    s3_read_timeout_s: float = Field(
        5.0,
        gt=0,
        description="seconds the object store may stay silent on a request; a request is tried 3 times, so an "
        "API request to a store that does not answer fails (503) after about 3 times this",
    )
    janitor_interval_s: float = Field(
        3600.0, gt=0, description="how often one CPU worker looks for temporary objects of jobs that ended or are gone"
    )
    janitor_min_age_s: float = Field(
        86400.0, ge=0, description="such temporary objects are removed once seen so for this long (a safety margin)"
    )

    @model_validator(mode="after")
    def _conversion_defaults_go_together(self) -> Settings:
        """The defaults checked as one conversion's options (a p1..p7 preset needs hevc_nvenc)."""
        ConversionOptions().updated(**{name: getattr(self, name) for name in SETTINGS_FIELDS})
        return self

    def refuse_default_secrets(self) -> None:
        """ValueError in production while a secret is still its shipped default. Every process that
        uses one calls it at start-up: the API (`create_app`) and the workers (`hdrtv worker`), which
        sign the callbacks. Not a validator: commands that need no secret run whatever the key."""
        default = type(self).model_fields["callback_signing_key"].default
        if self.environment == "production" and self.callback_signing_key == default:
            raise ValueError("HDRTV_CALLBACK_SIGNING_KEY is the default; set a secret of your own in production")


@lru_cache
def get_settings() -> Settings:
    return Settings()
