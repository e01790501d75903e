"""Make sure the schema is in place before a command writes (cheap when it is up to date)."""

from __future__ import annotations

from infermeter.config import Settings
from infermeter.ingest.migrate import RenderOptions, migrate
from infermeter.ingest.store.base import Store


def render_options(settings: Settings) -> RenderOptions:
    return RenderOptions(
        database=settings.store.database, cluster=settings.store.cluster, ttl_days=settings.store.raw_retention_days
    )


def ensure_schema(store: Store, settings: Settings) -> None:
    """Apply missing migrations; the owner's store and a server are migrated the same way."""
    migrate(store, render_options(settings))
