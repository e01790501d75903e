"""The I/O edge: spec files in, rule text out, and validation reports. Everything between is pure
(``loader`` parses, ``generate`` builds rules, ``render`` writes text)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from infermeter import __version__
from infermeter.errors import ConfigError
from infermeter.slo import conventions as c
from infermeter.slo.durations import DurationError, parse_duration
from infermeter.slo.generate import GenerateOptions, generate_group
from infermeter.slo.generate.alerts import Annotate
from infermeter.slo.issues import Issue, Level, raise_first
from infermeter.slo.loader import LoadedDocument, LoadOptions, discover, load_path
from infermeter.slo.model import GeneratorInfo, SLOGroup, SourceKind
from infermeter.slo.promtool import check_rules
from infermeter.slo.render import Header, NoRulesError, render_prometheus_rule, render_rules
from infermeter.slo.windows import BUILTIN_TABLES, WindowTable, load_windows_dir, missing_table_message

_MODES = {
    SourceKind.SLOTH_V1: c.MODE_CLI_PROMETHEUS,
    SourceKind.INFERMETER_V1: c.MODE_CLI_PROMETHEUS,
    SourceKind.K8S_V1: c.MODE_CLI_KUBERNETES,
    SourceKind.OPENSLO_V1ALPHA: c.MODE_CLI_OPENSLO,
}


@dataclass(frozen=True)
class Settings:
    """What ``slo generate`` and ``slo validate`` take from the command line."""

    default_period: str = "30d"
    windows_path: Path | None = None
    extra_labels: dict[str, str] = field(default_factory=dict)
    disable_recordings: bool = False
    disable_alerts: bool = False
    strict: bool = False
    header: Header = field(default_factory=lambda: Header(version=__version__))
    annotate: Annotate | None = None  # extra alert annotations (infermeter.alerts.context)


def window_tables(settings: Settings) -> dict[int, WindowTable]:
    """The built-in tables, or only the custom catalog when a path is given (as Sloth does)."""
    return load_windows_dir(settings.windows_path) if settings.windows_path else dict(BUILTIN_TABLES)


def load_options(settings: Settings) -> LoadOptions:
    try:
        period = parse_duration(settings.default_period)
    except DurationError as exc:
        raise ConfigError(f"--default-slo-period: {exc}") from None
    tables = window_tables(settings)
    if period not in tables:
        raise ConfigError(f"--default-slo-period: {missing_table_message(period, tables)}")
    return LoadOptions(period, tables, settings.strict)


def info_for(group: SLOGroup, settings: Settings) -> GeneratorInfo:
    return GeneratorInfo(settings.header.version, _MODES[group.kind], group.kind.value)


def render_document(doc: LoadedDocument, options: LoadOptions, settings: Settings) -> str:
    """Rule text for one valid document (header included)."""
    assert doc.group is not None
    group = doc.group
    gen = GenerateOptions(settings.extra_labels, settings.disable_recordings, settings.disable_alerts, settings.annotate)
    results = generate_group(group, options.tables, info_for(group, settings), gen)
    try:
        if group.kind is SourceKind.K8S_V1:
            assert group.k8s is not None
            return render_prometheus_rule(group.k8s, results, settings.header)
        return render_rules(results, settings.header)
    except NoRulesError as exc:
        raise ConfigError(f"{doc.source}: {exc} (recordings and alerts are all disabled)") from None


def generate_file(path: Path, settings: Settings, options: LoadOptions | None = None) -> tuple[str, list[Issue]]:
    """Rule text for every document of one spec file, and the warnings met. Raises
    :class:`ConfigError` on the first invalid document."""
    options = options or load_options(settings)
    docs = load_path(path, options)
    warnings: list[Issue] = []
    parts = []
    for doc in docs:
        raise_first(doc.issues)
        warnings.extend(i for i in doc.issues if i.level is Level.WARNING)
        parts.append(render_document(doc, options, settings))
    return "".join(parts), warnings


def generate_paths(src: Path, out: Path | None, settings: Settings) -> tuple[dict[Path, str], list[Issue]]:
    """Text per output file. A directory input mirrors its spec files into the ``out`` directory."""
    options = load_options(settings)
    if not src.exists():
        raise ConfigError(f"{src}: no such file or directory")
    if not src.is_dir():
        text, warnings = generate_file(src, settings, options)
        return {out or Path("-"): text}, warnings
    if out is None or (out.exists() and not out.is_dir()):
        raise ConfigError(f"{out or '-'}: the input {src} is a directory, so the output must be a directory")
    if out.resolve() == src.resolve():
        raise ConfigError(f"{src}: input and output can't be the same directory")
    files = discover(src)
    if not files:
        raise ConfigError(f"{src}: 0 SLO specs have been discovered")
    outputs: dict[Path, str] = {}
    warnings: list[Issue] = []
    for file in files:
        text, found = generate_file(file, settings, options)
        outputs[out / file.relative_to(src)] = text
        warnings.extend(found)
    return outputs, warnings


def _promtool_issues(doc: LoadedDocument, options: LoadOptions, settings: Settings) -> list[Issue]:
    try:
        result = check_rules(render_document(doc, options, settings))
    except FileNotFoundError as exc:
        raise ConfigError(f"--promtool: {exc}") from None
    if result.ok:
        return []
    detail = " ".join(line.strip() for line in result.output.splitlines() if line.strip() and "Checking" not in line)
    return [Issue(doc.source, f"promtool check rules failed: {detail}")]


@dataclass
class ValidationReport:
    documents: list[LoadedDocument]
    issues: list[Issue]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level is Level.ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.level is Level.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_paths(
    src: Path, settings: Settings, ignore_duplicates: bool = False, promtool: bool = False
) -> ValidationReport:
    """Load and check every spec under ``src``; SLO IDs must be unique across all of them. With
    ``promtool``, the rules of every valid document also go through ``promtool check rules``."""
    options = load_options(settings)
    if not src.exists():
        raise ConfigError(f"{src}: no such file or directory")
    files = discover(src)
    if not files:
        raise ConfigError(f"{src}: 0 SLO specs have been discovered")
    documents: list[LoadedDocument] = []
    issues: list[Issue] = []
    seen: dict[str, str] = {}
    for file in files:
        for doc in load_path(file, options):
            documents.append(doc)
            issues.extend(doc.issues)
            if promtool and doc.ok:
                issues.extend(_promtool_issues(doc, options, settings))
            if doc.group is None or ignore_duplicates:
                continue
            for slo in doc.group.slos:
                if slo.id in seen and seen[slo.id] != doc.source:
                    issues.append(
                        Issue(doc.source, f"SLO ID {slo.id!r} already exists in {seen[slo.id]}", "name", slo.name)
                    )
                seen.setdefault(slo.id, doc.source)
    return ValidationReport(documents, issues)
