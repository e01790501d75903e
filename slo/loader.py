"""Spec files -> validated SLO groups, with every problem named by file, SLO and field.

Reading follows Sloth: a file may hold several YAML documents separated by ``---`` lines (lines
starting with ``#`` are dropped first); each document is detected by its ``version`` or its
``apiVersion``/``kind``. Unknown keys are tolerated with a warning (errors under ``strict``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from infermeter.slo import conventions as c
from infermeter.slo.issues import Issue, Level
from infermeter.slo.mapping import MapResult, map_k8s, map_openslo, map_sloth
from infermeter.slo.model import SLOGroup, SourceKind
from infermeter.slo.specs import infermeter_v1, k8s_v1, openslo_v1alpha, sloth_v1
from infermeter.slo.specs.base import unknown_keys
from infermeter.slo.validation import duplicate_ids, validate_slo
from infermeter.slo.windows import WindowTable, missing_table_message

SPEC_SUFFIXES = (".yaml", ".yml")
_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_COMMENT_LINE_RE = re.compile(r"^#.*$", re.MULTILINE)
_SUPPORTED = (
    "version: prometheus/v1 or infermeter/v1, apiVersion: sloth.slok.dev/v1 with kind: "
    "PrometheusServiceLevel, or apiVersion: openslo/v1alpha with kind: SLO"
)


@dataclass(frozen=True)
class Document:
    source: str  # "file.yaml" or "file.yaml (document 2)"
    text: str
    first_line: int  # 1-based line of the document's first line in the file


@dataclass(frozen=True)
class LoadOptions:
    default_period_ms: int
    tables: dict[int, WindowTable]
    strict: bool = False


@dataclass
class LoadedDocument:
    source: str
    group: SLOGroup | None
    issues: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.group is not None and not any(i.level is Level.ERROR for i in self.issues)


# --- files ----------------------------------------------------------------------------------------
def discover(path: Path) -> list[Path]:
    """``path`` itself, or every ``*.yaml``/``*.yml`` file below it, sorted."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SPEC_SUFFIXES)
    return [path]


def read_text(path: Path) -> str | Issue:
    """The file's text, or an issue when it cannot be read or is not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return Issue(str(path), f"cannot read file: {exc.strerror or exc}")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        return Issue(str(path), f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start})")


def split_documents(text: str, name: str) -> list[Document]:
    """Sloth's split: drop ``#`` comment lines, cut at lines starting with ``---``, skip blanks."""
    stripped = _COMMENT_LINE_RE.sub("", text)
    docs: list[tuple[int, list[str]]] = [(1, [])]
    for number, line in enumerate(stripped.split("\n"), start=1):
        if line.startswith("---"):
            docs.append((number, [line[3:]]))
        else:
            docs[-1][1].append(line)
    found = []
    for start, lines in docs:
        body = "\n".join(lines)
        if not body.strip():
            continue
        leading = len(body) - len(body.lstrip())
        found.append((start + body[:leading].count("\n"), body.strip()))
    if len(found) == 1:
        return [Document(name, found[0][1], found[0][0])]
    return [Document(f"{name} (document {i})", body, line) for i, (line, body) in enumerate(found, start=1)]


# --- documents ------------------------------------------------------------------------------------
def _loc(parts: tuple[Any, ...]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _slo_name_at(data: dict[str, Any], parts: tuple[Any, ...]) -> str | None:
    """The ``name`` of the SLO a location points into, if the location is inside one."""
    node: Any = data
    for i, part in enumerate(parts):
        if part in ("slos", "objectives") and i + 1 < len(parts) and isinstance(parts[i + 1], int):
            try:
                item = node[part][parts[i + 1]]
            except (KeyError, IndexError, TypeError):
                return None
            if part == "objectives":
                return f"{data.get('metadata', {}).get('name', '')}-{parts[i + 1]}"
            return str(item.get("name", "")) if isinstance(item, dict) else None
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return None


def _detect(data: dict[str, Any]) -> type[BaseModel] | None:
    version = data.get("version")
    if version == c.SPEC_SLOTH_V1:
        return sloth_v1.Spec
    if version == c.SPEC_INFERMETER_V1:
        return infermeter_v1.Spec
    api, kind = data.get("apiVersion"), data.get("kind")
    if api == k8s_v1.API_VERSION and kind == k8s_v1.KIND:
        return k8s_v1.PrometheusServiceLevel
    if api == openslo_v1alpha.API_VERSION and kind == openslo_v1alpha.KIND:
        return openslo_v1alpha.SLO
    return None


def parse_spec(doc: Document, strict: bool = False) -> tuple[BaseModel | None, list[Issue]]:
    """A document's YAML into its spec model; unknown keys become warnings (errors if strict)."""
    try:
        data = yaml.load(doc.text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + doc.first_line}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [Issue(doc.source, f"invalid YAML{where}: {problem}")]
    if not isinstance(data, dict):
        return None, [Issue(doc.source, "a spec document must be a YAML mapping")]
    model_type = _detect(data)
    if model_type is None:
        found = {k: data[k] for k in ("version", "apiVersion", "kind") if k in data}
        return None, [Issue(doc.source, f"unsupported spec {found or '(no version)'}: expected {_SUPPORTED}")]
    try:
        spec = model_type.model_validate(data)
    except ValidationError as exc:
        issues = []
        for err in exc.errors():
            issues.append(Issue(doc.source, err["msg"], _loc(tuple(err["loc"])), _slo_name_at(data, tuple(err["loc"]))))
        return None, issues
    issues = []
    for key in unknown_keys(spec):
        path = tuple(int(p) if p.isdigit() else p for p in re.split(r"\.|\[|\]\.?", key) if p)
        level = Level.ERROR if strict else Level.WARNING
        note = "unknown key" if strict else "unknown key (ignored, as Sloth does)"
        issues.append(Issue(doc.source, note, key, _slo_name_at(data, path), level))
    return spec, issues


def _map(spec: BaseModel, default_period_ms: int, source: str) -> MapResult:
    if isinstance(spec, sloth_v1.Spec):  # also infermeter/v1
        return map_sloth(spec, default_period_ms, source)
    if isinstance(spec, k8s_v1.PrometheusServiceLevel):
        return map_k8s(spec, default_period_ms, source)
    assert isinstance(spec, openslo_v1alpha.SLO)
    return map_openslo(spec, default_period_ms, source)


def load_document(doc: Document, options: LoadOptions) -> LoadedDocument:
    """Parse, map and validate one document."""
    spec, issues = parse_spec(doc, options.strict)
    if spec is None:
        return LoadedDocument(doc.source, None, issues)
    mapped = _map(spec, options.default_period_ms, doc.source)
    for p in mapped.problems:
        issues.append(Issue(doc.source, p.message, p.field, p.slo, Level.ERROR if p.error else Level.WARNING))
    group = mapped.group
    service_field = "service" if group.kind in (SourceKind.SLOTH_V1, SourceKind.INFERMETER_V1) else "spec.service"
    for slo in group.slos:
        for fld, message in validate_slo(slo, group.kind):
            where = service_field if fld == "service" else f"{slo.location}.{fld}"
            issue = Issue(doc.source, message, where, None if fld == "service" else slo.name)
            if issue not in issues:
                issues.append(issue)
        if slo.period_ms > 0 and slo.period_ms not in options.tables:
            issues.append(Issue(doc.source, missing_table_message(slo.period_ms, options.tables), "period", slo.name))
    for name, message in duplicate_ids(group):
        issues.append(Issue(doc.source, message, "name", name))
    return LoadedDocument(doc.source, group, issues)


def load_path(path: Path, options: LoadOptions) -> list[LoadedDocument]:
    """Every document of one file."""
    text = read_text(path)
    if isinstance(text, Issue):
        return [LoadedDocument(str(path), None, [text])]
    docs = split_documents(text, str(path))
    if not docs:
        return [LoadedDocument(str(path), None, [Issue(str(path), "no spec document in file")])]
    return [load_document(doc, options) for doc in docs]
