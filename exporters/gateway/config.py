"""``gateway`` section of the exporter's configuration: where usage events come from and how to read them.

A section model only (it must not import ``infermeter.config``); the sidecar's configuration
holds it as one field. Every list of attribute or field names is tried in order, first non-empty
value wins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from infermeter.exporters.gateway import conventions as c

# Usage fields a tailer may map (UsageEvent's fields, plus `api_key`, a raw key that is hashed).
MAPPABLE_FIELDS = (
    "event_id", "ts", "tenant", "api_key_id", "api_key", "model", "deployment", "instance",
    "input_tokens", "cached_input_tokens", "output_tokens", "ttft_ms", "duration_ms", "status_code",
    "error_type",
)

_Path = Annotated[str, Field(min_length=1)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldRef(_Section):
    """A dotted path into the log record, with a factor (e.g. ``scale: 1000`` for seconds to ms)."""

    path: _Path
    scale: float = Field(default=1.0, gt=0)


class OtlpConfig(_Section):
    """The OTLP/HTTP trace receiver (protobuf and JSON, gzip or deflate)."""

    enabled: bool = True
    path: str = Field(default=c.OTLP_TRACES_PATH, pattern=r"^/")
    max_body_bytes: int = Field(default=32 << 20, ge=1024, description="After decompression; larger: 413.")
    operations: list[str] = Field(
        default=["chat", "text_completion", "generate_content", "embeddings"],
        description="gen_ai.operation.name values that are requests; spans of other operations "
        "(invoke_agent, execute_tool) are ignored so an agent's tokens are not counted twice. "
        "Spans without the attribute count when they carry a gen_ai.* attribute.",
    )
    model_attributes: list[str] = [c.GEN_AI_REQUEST_MODEL, c.GEN_AI_RESPONSE_MODEL]
    ttft_attributes: dict[str, float] = Field(
        default={c.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: 1000.0},
        description="attribute -> factor to milliseconds (1000 for seconds).",
    )


class LiteLLMConfig(_Section):
    """The webhook for LiteLLM's generic API callback (``StandardLoggingPayload`` objects)."""

    enabled: bool = False
    path: str = Field(default=c.LITELLM_PATH, pattern=r"^/")
    secret_header: str = Field(default="Authorization", min_length=1)
    secret: SecretStr | None = Field(
        default=None, description="When set, the header must equal it (or 'Bearer <secret>'); else 401."
    )
    tenant_paths: list[str] = [
        "metadata.user_api_key_team_alias",
        "metadata.user_api_key_team_id",
        "metadata.user_api_key_org_id",
        "metadata.user_api_key_user_id",
    ]
    model_paths: list[str] = ["model_group", "model"]
    deployment_paths: list[str] = []
    cached_tokens_paths: list[str] = [
        "metadata.usage_object.prompt_tokens_details.cached_tokens",
        "hidden_params.usage_object.prompt_tokens_details.cached_tokens",
        "metadata.usage_object.cache_read_input_tokens",
    ]
    max_body_bytes: int = Field(default=32 << 20, ge=1024)


class TailerConfig(_Section):
    """One JSON-lines access log (a path or a glob) and how its fields map to usage fields."""

    name: str = Field(default="", pattern=r"^[A-Za-z0-9_.-]*$", description="Default: derived from path.")
    path: _Path = Field(description="A file, or a glob such as /var/log/gw/access.jsonl* (rotated copies).")
    fields: dict[str, str | FieldRef] = Field(
        default_factory=dict, description="usage field -> dotted path (or {path, scale}) in the record."
    )
    attributes: dict[str, str] = Field(default_factory=dict, description="attributes key -> dotted path.")
    static: dict[str, str | int | float] = Field(
        default_factory=dict, description="usage field -> constant, used when the record has no value."
    )
    start_at: Literal["beginning", "end"] = Field(
        default="beginning", description="Where to start in a file that has no saved offset."
    )
    poll_interval_s: float = Field(default=0.5, gt=0)
    max_line_bytes: int = Field(default=1 << 20, ge=1024)

    @field_validator("fields", "static")
    @classmethod
    def _known_fields(cls, value: dict) -> dict:
        unknown = sorted(set(value) - set(MAPPABLE_FIELDS))
        if unknown:
            raise ValueError(f"unknown usage field(s) {', '.join(unknown)}; known: {', '.join(MAPPABLE_FIELDS)}")
        return value

    def ref(self, field: str) -> FieldRef | None:
        spec = self.fields.get(field)
        if spec is None:
            return FieldRef(path=field) if field in _DEFAULT_SAME_NAME else None
        return FieldRef(path=spec) if isinstance(spec, str) else spec

    def display_name(self) -> str:
        if self.name:
            return self.name
        stem = Path(self.path).name.replace("*", "").replace("?", "").strip(".") or "log"
        return "".join(ch if ch.isalnum() or ch in "_.-" else "_" for ch in stem)


# Usage fields read from the record's field of the same name unless mapped otherwise.
_DEFAULT_SAME_NAME = frozenset(MAPPABLE_FIELDS) - {"api_key"}


class GatewayConfig(_Section):
    """Gateway usage inputs (OTLP spans, JSON-lines access logs, LiteLLM callbacks) and their metrics."""

    otlp: OtlpConfig = OtlpConfig()
    litellm: LiteLLMConfig = LiteLLMConfig()
    tailers: list[TailerConfig] = []
    offsets_dir: Path | None = Field(default=None, description="Tailer offsets. Default: <data dir>/offsets/gateway.")
    checkpoint_interval_s: float = Field(
        default=5.0, gt=0, description="How often tailers flush the writer and save their offsets."
    )

    # Where OTLP spans carry the request's identity: span attributes first, then resource ones.
    tenant_attributes: list[str] = ["tenant.id", "infermeter.tenant"]
    api_key_id_attributes: list[str] = Field(
        default=["api_key.id", "infermeter.api_key_id"], description="Ids (or hashes) of the API key, stored as they are."
    )
    api_key_attributes: list[str] = Field(
        default=[], description="Raw API keys: only their SHA-256 is kept, and quarantine redacts them."
    )
    deployment_attributes: list[str] = ["infermeter.deployment", c.K8S_DEPLOYMENT_NAME]
    instance_attributes: list[str] = ["infermeter.instance", c.K8S_POD_NAME, c.SERVICE_INSTANCE_ID]
    keep_attributes: list[str] = Field(
        default=[
            c.GEN_AI_OPERATION_NAME, c.GEN_AI_PROVIDER_NAME, c.GEN_AI_SYSTEM, c.GEN_AI_RESPONSE_MODEL,
            c.GEN_AI_RESPONSE_ID, c.SERVER_ADDRESS, c.SERVICE_NAME,
        ],
        description="OTLP attributes copied into the row's attributes map (prompts never are).",
    )
    default_tenant: str | None = Field(
        default=None, description="Tenant of events that name none; None quarantines them."
    )
    default_deployment: str = ""
    default_instance: str = ""

    # Re-exposed per-tenant metrics.
    tenant_cap: int = Field(default=50, ge=1, le=10_000, description="Tenants with a label of their own.")
    model_cap: int = Field(default=50, ge=1, le=10_000, description="Models with a label of their own.")
    tenant_half_life_s: float = Field(default=3600.0, gt=0, description="Half-life of the traffic ranking.")
    rebalance_interval_s: float = Field(default=60.0, gt=0)
    rebalance_hysteresis: float = Field(default=2.0, ge=1.0)
    duration_buckets: list[float] = list(c.DURATION_BUCKETS)
    ttft_buckets: list[float] = list(c.TTFT_BUCKETS)
    dedup_window: int = Field(default=100_000, ge=0, description="Recent event ids remembered for the metrics.")

    @field_validator("duration_buckets", "ttft_buckets")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if not value or any(b <= a for a, b in zip(value, value[1:])) or value[0] <= 0:
            raise ValueError("bucket bounds must be positive and strictly increasing")
        return value

    @model_validator(mode="after")
    def _paths_and_names(self) -> "GatewayConfig":
        if self.otlp.enabled and self.litellm.enabled and self.otlp.path == self.litellm.path:
            raise ValueError(f"otlp.path and litellm.path are both {self.otlp.path}")
        names = [t.display_name() for t in self.tailers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"tailers: duplicate name(s) {', '.join(dupes)}; give each a distinct `name`")
        return self
