"""The edge: parsed samples of one target -> ``samples`` and ``series`` rows, with reset-aware deltas.

One :class:`EdgeState` per target keeps what it needs between scrapes: each series' slot (its
``series_id``, whether it is cumulative, whether it is kept) and the previous value.

Deltas (the ``delta`` column, so that an increase over any range is a plain ``sum(delta)``):

* **Cumulative samples** (counters, histogram and summary ``_bucket``/``_count``/``_sum``, as
  :meth:`~infermeter.exporters.exposition.FamilyRef.cumulative` says): ``value - previous``; when
  the value went down the counter was reset, and the delta is the new value (what it counted
  since the reset), as Prometheus' ``increase()`` reads it.
* **First scrape convention**: on the first page a target returns to this process, every series
  gets ``delta = 0`` (what it counted before the sidecar started is unknown and is not attributed
  to this interval). A cumulative series that first appears on a *later* page was created since
  the previous scrape, counting from zero, so its delta is its value. A series that disappears
  and comes back is compared with its last value (a lower value reads as a reset).
* Gauges, info, stateset, untyped samples and ``_created`` get ``delta = 0``; so does any
  non-finite delta (``NaN``, ``Inf``).

Timestamps: every sample of a scrape gets the scrape's tick (the interval-aligned time it was
due), not the page's own timestamps; aligned timestamps store in ~1.6 bytes per sample.

Hot path: a page with the same series in the same order as the previous one (the steady state:
:func:`~infermeter.exporters.exposition.parse_series` with a per-target
:class:`~infermeter.exporters.exposition.LabelCache` hands out the very same name and label
objects) is recognised with two C-level identity scans, and its values become numpy arrays;
no per-sample Python code runs. Any other page takes the per-series path once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import is_, itemgetter

import numpy as np
import pyarrow as pa

from infermeter.exporters.exposition import FamilyRef, LabelKey, SeriesSample
from infermeter.exporters.series import series_id, stored_labels
from infermeter.ingest import schemas

_NAME = itemgetter(0)
_LABELS = itemgetter(1)
_VALUE = itemgetter(2)
_TS_TYPE = schemas.SAMPLES.field("ts").type

FamilyOf = Callable[[str], FamilyRef]
ValueFilter = Callable[[np.ndarray], np.ndarray]


@dataclass(slots=True)
class EdgeBatch:
    """What one page becomes: rows for ``samples``, rows for ``series`` (new series, and every
    current series once per refresh interval), and counts for the self-metrics."""

    samples: pa.Table
    series: pa.Table | None
    new_series: int
    resets: int
    dropped: int


_CUMULATIVE_TYPES = ("counter", "histogram", "summary", "gaugehistogram")


def is_created(name: str, ref: FamilyRef, family_of: FamilyOf) -> bool:
    """True for a ``_created`` sample: a counter's, histogram's or summary's creation time.

    OpenMetrics pages attach it to the family (suffix ``_created``); prometheus_client's text
    format writes it as a gauge family of its own (``vllm:x_created`` beside ``vllm:x_total``).
    """
    if not name.endswith("_created"):
        return False
    if ref.suffix == "_created":
        return True
    base = name[: -len("_created")]
    return family_of(base).type in _CUMULATIVE_TYPES or family_of(base + "_total").type == "counter"


class EdgeState:
    """Per-target state between scrapes; not thread-safe (one worker processes a target)."""

    def __init__(
        self,
        target: str,
        source: str,
        added: LabelKey = (),
        *,
        renames: Mapping[str, str] | None = None,
        keep_created: bool = False,
        drop: re.Pattern[str] | None = None,
        value_filter: ValueFilter | None = None,
        refresh_ms: int = 3_600_000,
    ) -> None:
        self.target = target
        self.source = source
        self.added = added
        self.renames = dict(renames or {})
        self.keep_created = keep_created
        self.drop = drop
        self.value_filter = value_filter
        self.refresh_ms = refresh_ms
        self.pages = 0  # pages processed (page=True calls)
        self._index: dict[tuple[str, LabelKey], int] = {}
        self._meta: list[tuple[str, LabelKey]] = []  # slot -> (metric, stored labels)
        self._n = 0
        self._sid = np.zeros(256, np.uint64)
        self._prev = np.full(256, np.nan)
        self._cum = np.zeros(256, bool)
        self._keep = np.ones(256, bool)
        self._seen = np.zeros(256, bool)
        self._layout_names: list[str] = []
        self._layout_labels: list[LabelKey] = []
        self._layout_slots = np.empty(0, np.intp)
        self._layout_sids = np.empty(0, np.uint64)
        self._layout_cum = np.empty(0, bool)
        self._layout_keep: np.ndarray | None = None  # None: every series kept
        self._new_slots: list[int] = []
        self._last_refresh_ms: int | None = None

    # -- introspection

    @property
    def series_count(self) -> int:
        """Series on the last page (kept or not)."""
        return len(self._layout_slots)

    def series_id_of(self, name: str, labels: LabelKey) -> int | None:
        slot = self._index.get((name, labels))
        return None if slot is None else int(self._sid[slot])

    # -- the work

    def process(self, samples: Sequence[SeriesSample], family_of: FamilyOf, ts_ms: int, *, page: bool = True) -> EdgeBatch:
        """Turn one scrape's samples into rows stamped ``ts_ms``.

        ``page`` is False for a scrape that returned no page (only the synthetic ``up`` and
        friends): it does not count as the target's first page for the delta convention.
        """
        n = len(samples)
        names = list(map(_NAME, samples))
        labels = list(map(_LABELS, samples))
        if not (
            n == len(self._layout_names)
            and all(map(is_, labels, self._layout_labels))
            and all(map(is_, names, self._layout_names))
        ):
            self._relayout(names, labels, family_of)
        slots = self._layout_slots
        values = np.fromiter(map(_VALUE, samples), np.float64, n)

        prev = self._prev[slots]
        with np.errstate(invalid="ignore"):
            delta = values - prev
            reset = values < prev
        reset &= self._layout_cum
        np.copyto(delta, values, where=reset)
        seen = self._seen[slots]
        new = int(n - np.count_nonzero(seen))
        if new:
            unseen = ~seen
            delta[unseen] = values[unseen] if (page and self.pages) else 0.0
            self._seen[slots] = True
        delta[~self._layout_cum] = 0.0
        delta[~np.isfinite(delta)] = 0.0

        keep = self._layout_keep
        if self.value_filter is not None:
            valid = self.value_filter(values)
            if not valid.all():
                values_to_keep = np.where(valid, values, prev)  # a blank field keeps the last value
                self._prev[slots] = values_to_keep
                keep = valid if keep is None else keep & valid
            else:
                self._prev[slots] = values
        else:
            self._prev[slots] = values
        if page:
            self.pages += 1

        sids = self._layout_sids
        dropped = 0
        if keep is not None:
            kept = int(np.count_nonzero(keep))
            dropped = n - kept
            if dropped:
                sids, values, delta = sids[keep], values[keep], delta[keep]
        rows = len(sids)
        table = pa.Table.from_arrays(
            [
                pa.array(sids, pa.uint64()),
                pa.array(np.full(rows, ts_ms, np.int64), _TS_TYPE),
                pa.array(values, pa.float64()),
                pa.array(delta, pa.float64()),
            ],
            schema=schemas.SAMPLES,
        )
        new_series = len(self._new_slots)
        return EdgeBatch(table, self._series_rows(ts_ms), new_series, int(np.count_nonzero(reset)), dropped)

    # -- layout (the per-series path)

    def _relayout(self, names: list[str], labels: list[LabelKey], family_of: FamilyOf) -> None:
        index = self._index
        if self._n > 2 * len(names) + 1024:
            self._compact(set(zip(names, labels)))
            index = self._index
        slots: list[int] = []
        append = slots.append
        for key in zip(names, labels):
            slot = index.get(key)
            if slot is None:
                slot = self._new_slot(key, family_of)
            append(slot)
        arr = np.array(slots, np.intp)
        self._layout_names, self._layout_labels, self._layout_slots = names, labels, arr
        self._layout_sids = self._sid[arr]
        self._layout_cum = self._cum[arr]
        keep = self._keep[arr]
        self._layout_keep = None if keep.all() else keep

    def _new_slot(self, key: tuple[str, LabelKey], family_of: FamilyOf) -> int:
        name, page_labels = key
        ref = family_of(name)
        keep = (self.keep_created or not is_created(name, ref, family_of)) and not (
            self.drop is not None and self.drop.search(name)
        )
        labels = stored_labels(page_labels, self.added, self.renames)
        slot = self._n
        if slot == len(self._sid):
            self._grow()
        self._sid[slot] = series_id(name, labels)
        self._prev[slot] = np.nan
        self._cum[slot] = ref.cumulative
        self._keep[slot] = keep
        self._seen[slot] = False
        self._meta.append((name, labels))
        self._index[key] = slot
        self._n += 1
        if keep:
            self._new_slots.append(slot)
        return slot

    def _grow(self) -> None:
        size = len(self._sid) * 2
        self._sid = np.resize(self._sid, size)
        self._prev = np.resize(self._prev, size)
        self._cum = np.resize(self._cum, size)
        self._keep = np.resize(self._keep, size)
        self._seen = np.resize(self._seen, size)

    def _compact(self, live: set[tuple[str, LabelKey]]) -> None:
        """Forget series that are not on the current page (bounds memory under churn)."""
        old_index = self._index
        order = [(key, slot) for key, slot in old_index.items() if key in live]
        take = np.array([slot for _, slot in order], np.intp)
        self._sid = self._sid[take].copy()
        self._prev = self._prev[take].copy()
        self._cum = self._cum[take].copy()
        self._keep = self._keep[take].copy()
        self._seen = self._seen[take].copy()
        self._meta = [self._meta[slot] for _, slot in order]
        self._index = {key: i for i, (key, _) in enumerate(order)}
        self._n = len(order)
        remap = dict(zip(take.tolist(), range(len(order))))
        self._new_slots = [remap[s] for s in self._new_slots if s in remap]
        if self._n == 0:
            self._sid, self._prev = np.zeros(256, np.uint64), np.full(256, np.nan)
            self._cum, self._keep, self._seen = np.zeros(256, bool), np.ones(256, bool), np.zeros(256, bool)
        self._layout_names, self._layout_labels = [], []

    # -- series rows

    def _series_rows(self, ts_ms: int) -> pa.Table | None:
        slots = self._new_slots
        self._new_slots = []
        if self._last_refresh_ms is None:
            self._last_refresh_ms = ts_ms
        elif ts_ms - self._last_refresh_ms >= self.refresh_ms:
            self._last_refresh_ms = ts_ms
            current = self._layout_slots if self._layout_keep is None else self._layout_slots[self._layout_keep]
            slots = sorted(set(slots) | set(current.tolist()))
        if not slots:
            return None
        meta = self._meta
        metric = [meta[s][0] for s in slots]
        labels = [list(meta[s][1]) for s in slots]
        ts = pa.array(np.full(len(slots), ts_ms, np.int64), _TS_TYPE)
        return pa.Table.from_arrays(
            [
                pa.array(self._sid[np.array(slots, np.intp)], pa.uint64()),
                pa.array(metric, pa.string()),
                pa.array(labels, schemas.SERIES.field("labels").type),
                pa.array([self.source] * len(slots), pa.string()),
                pa.array([self.target] * len(slots), pa.string()),
                ts,
                ts,
            ],
            schema=schemas.SERIES,
        )
