"""One configuration model for every command.

Sources, highest priority first: keyword arguments (tests, CLI flags), ``INFERMETER_*``
environment variables (nested with ``__``, e.g. ``INFERMETER_STORE__URL``), then the YAML file
named by ``--config`` or ``INFERMETER_CONFIG``. Unknown keys are rejected with their path, and
secrets are :class:`~pydantic.SecretStr` so they never appear in logs or reprs.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from infermeter.errors import ConfigError
from infermeter.yamlio import read_yaml_text
from infermeter.chargeback.config import ChargebackConfig
from infermeter.dashboards.portal.config import PortalConfig
from infermeter.exporters.config import ExporterConfig

CONFIG_ENV = "INFERMETER_CONFIG"
DEFAULT_STORE_URL = "chdb://./infermeter-data"
_FILE_DATA: ContextVar[dict[str, Any]] = ContextVar("infermeter_config_file_data", default={})


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoreConfig(_Section):
    """Where the data lives: ``chdb://PATH`` (embedded) or ``clickhouse://user:pass@host:port/db``."""

    url: str = Field(default=DEFAULT_STORE_URL, repr=False, description="May embed a password: never shown.")
    database: str = Field(default="infermeter", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    password: SecretStr | None = Field(default=None, description="Overrides the URL's password.")
    cluster: str | None = Field(default=None, description="Cluster name for ON CLUSTER DDL.")
    raw_retention_days: int = Field(default=62, ge=1, description="TTL of raw samples (two months, so last month can be recomputed).")
    connect_timeout_s: float = Field(default=5.0, gt=0)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        from infermeter.ingest.store.url import parse_store_url

        try:
            parse_store_url(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value


class WriterConfig(_Section):
    """Batching, spooling and durability of the shared writer."""

    max_batch_rows: int = Field(default=200_000, ge=1)
    max_batch_age_s: float = Field(default=2.0, gt=0)
    max_buffer_rows: int = Field(default=2_000_000, ge=1, description="Memory bound per table.")
    spool_dir: Path | None = Field(default=None, description="Default: <data dir>/spool.")
    spool_max_bytes: int = Field(default=1 << 30, ge=1 << 20)
    durable: bool = Field(default=True, description="Write each batch ahead to the spool.")
    retry_interval_s: float = Field(default=5.0, gt=0)


class ApiConfig(_Section):
    """The owner's local API (loopback only)."""

    host: Literal["127.0.0.1", "::1", "localhost"] = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port.")


class Settings(BaseSettings):
    """The whole configuration; sections are added by each area."""

    model_config = SettingsConfigDict(
        env_prefix="INFERMETER_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    store: StoreConfig = StoreConfig()
    writer: WriterConfig = WriterConfig()
    api: ApiConfig = ApiConfig()
    chargeback: ChargebackConfig = ChargebackConfig()
    portal: PortalConfig = PortalConfig()
    exporter: ExporterConfig = ExporterConfig()
    data_dir: Path | None = Field(
        default=None, description="Working files (spool, offsets). Default: the chdb path or ./infermeter-data."
    )

    # Set by load_settings; not a configuration key.
    _source_file: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlFileSource(settings_cls))

    def resolved_data_dir(self) -> Path:
        """Directory for the spool, offsets and owner files."""
        if self.data_dir is not None:
            return self.data_dir
        from infermeter.ingest.store.url import parse_store_url

        parsed = parse_store_url(self.store.url)
        if parsed.kind == "chdb":
            return Path(parsed.path)
        return Path("infermeter-data")


class _YamlFileSource(PydanticBaseSettingsSource):
    """The YAML file's data, below the environment in priority."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return _FILE_DATA.get().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_FILE_DATA.get())


def _read_yaml(path: Path) -> dict[str, Any]:
    data, _ = read_yaml_text(path, "configuration")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, not {type(data).__name__}")
    return data


def format_validation_error(exc: ValidationError, origin: str) -> str:
    """One readable message per problem, each naming the key's dotted path."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            parts.append(f"{loc}: unknown key")
        else:
            msg = err["msg"]
            parts.append(f"{loc}: {msg}")
    return f"{origin}: " + "; ".join(parts)


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Load the configuration from ``path`` (or ``$INFERMETER_CONFIG``), the environment and overrides."""
    if path is None:
        env_path = os.environ.get(CONFIG_ENV)
        path = Path(env_path) if env_path else None
    file_data: dict[str, Any] = _read_yaml(Path(path)) if path is not None else {}
    origin = str(path) if path is not None else "configuration"
    token = _FILE_DATA.set(file_data)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, origin)) from None
    finally:
        _FILE_DATA.reset(token)
    settings._source_file = Path(path) if path is not None else None
    return settings
