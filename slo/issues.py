"""Problems found in spec files, each naming the file, the SLO and the field."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from infermeter.errors import ConfigError


class Level(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Issue:
    """One problem: ``source`` is the file (and document), ``slo`` the SLO name if any."""

    source: str
    message: str
    field: str = ""
    slo: str | None = None
    level: Level = Level.ERROR

    def __str__(self) -> str:
        parts = [self.source]
        if self.slo is not None:
            parts.append(f"SLO {self.slo!r}")
        if self.field:
            parts.append(f"field {self.field}")
        return ": ".join(parts) + ": " + self.message


def raise_first(issues: list[Issue]) -> None:
    """Raise the first error as a :class:`ConfigError` (exit code 2); warnings pass."""
    for issue in issues:
        if issue.level is Level.ERROR:
            more = sum(1 for i in issues if i.level is Level.ERROR) - 1
            suffix = f" (and {more} more error{'s' if more > 1 else ''}; run 'infermeter slo validate')" if more else ""
            raise ConfigError(str(issue) + suffix)
