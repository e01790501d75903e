"""Shared behaviour of the spec models: tolerate (but remember) unknown keys, treat ``null`` as
absent (as Go's decoders do), and list the unknown keys for warnings or ``--strict``."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator


class SpecModel(BaseModel):
    """Base of every input-format model."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    # Keys that are accepted without a warning although the model does not read them.
    quiet_extras: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


def unknown_keys(model: Any, path: str = "") -> list[str]:
    """Dotted paths of the keys that no model field claimed, depth first."""
    found: list[str] = []
    if isinstance(model, SpecModel):
        quiet = model.quiet_extras
        for key in (model.model_extra or {}):
            if key not in quiet:
                found.append(f"{path}.{key}" if path else str(key))
        for name, info in type(model).model_fields.items():
            key = info.alias or name
            child = getattr(model, name)
            found.extend(unknown_keys(child, f"{path}.{key}" if path else key))
    elif isinstance(model, list):
        for i, item in enumerate(model):
            found.extend(unknown_keys(item, f"{path}[{i}]"))
    return found
