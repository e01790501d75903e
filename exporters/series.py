"""Series identity: the stored label set of a scraped series and its stable ``series_id``.

``series_id`` is the first 8 bytes (little-endian, unsigned) of BLAKE2b over the UTF-8 text
``metric NUL name1 NUL value1 NUL name2 NUL value2 ...`` with the stored labels sorted by name.
It depends on nothing but the metric name and the stored labels, so every sidecar, every restart
and every language computes the same id for the same series.

The stored labels are the page's labels (renamed per kind, see
:data:`~infermeter.exporters.conventions.KIND_LABEL_RENAMES`) plus the labels the sidecar adds
(``target``, the Kubernetes ``pod``/``namespace``/``node`` and a target's static labels). A page
label that clashes with an added one is kept as ``exported_<name>``.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Mapping

from infermeter.exporters import conventions as c
from infermeter.exporters.exposition import LabelKey


def series_id(metric: str, labels: LabelKey) -> int:
    """The stable 64-bit id of ``metric`` with ``labels`` (sorted ``(name, value)`` pairs)."""
    parts = [metric]
    for name, value in labels:
        parts.append(name)
        parts.append(value)
    digest = hashlib.blake2b("\x00".join(parts).encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def added_labels(target: str, static: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None) -> LabelKey:
    """The labels the sidecar adds to a target's series: ``target``, the Kubernetes labels found
    in the environment (:data:`~infermeter.exporters.conventions.K8S_ENV_LABELS`) and ``static``."""
    env = os.environ if env is None else env
    labels: dict[str, str] = {}
    for var, label in c.K8S_ENV_LABELS:
        value = env.get(var, "")
        if value:
            labels[label] = value
    labels.update(static or {})
    labels[c.TARGET_LABEL] = target
    return tuple(sorted(labels.items()))


def stored_labels(page: LabelKey, added: LabelKey, renames: Mapping[str, str] | None = None) -> LabelKey:
    """The labels stored for a page series: renames applied, clashes kept as ``exported_*``."""
    if not added and not renames:
        return page
    added_names = {name for name, _ in added}
    out: dict[str, str] = {}
    for name, value in page:
        if renames:
            name = renames.get(name, name)
        if name in added_names:
            name = c.EXPORTED_PREFIX + name
        out[name] = value
    out.update(added)
    return tuple(sorted(out.items()))


def own_instance(env: Mapping[str, str] | None = None) -> str:
    """This sidecar's instance name: ``$POD_NAME`` in Kubernetes, the host name elsewhere."""
    env = os.environ if env is None else env
    return env.get(c.POD_NAME_ENV) or socket.gethostname()
