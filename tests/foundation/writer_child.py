"""A writer process for the crash tests: writes numbered batches, or replays its spool and counts.

usage: writer_child.py write STORE SPOOL BATCHES ROWS [--durable|--buffered]
       writer_child.py replay STORE SPOOL
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pyarrow as pa

from infermeter.cli.common import sigterm_as_exit
from infermeter.ingest import schemas
from infermeter.ingest.migrate import RenderOptions, migrate
from infermeter.ingest.spool import Spool
from infermeter.ingest.store.chdb_store import ChdbStore
from infermeter.ingest.writer import Writer

T0 = (int(time.time()) // 3600 * 3600 - 3 * 3600) * 1000


def batch(i: int, rows: int) -> pa.Table:
    return pa.table(
        {
            "series_id": pa.array(np.arange(rows, dtype=np.uint64)),
            "ts": pa.array(np.full(rows, T0 + i * 1000), type=pa.timestamp("ms", tz="UTC")),
            "value": pa.array(np.full(rows, float(i))),
            "delta": pa.array(np.ones(rows)),
        },
        schema=schemas.SAMPLES,
    )


def main(argv: list[str]) -> None:
    mode, store_path, spool_dir = argv[:3]
    store = ChdbStore(store_path, "infermeter")
    migrate(store, RenderOptions())
    if mode == "write":
        batches, rows = int(argv[3]), int(argv[4])
        durable = "--buffered" not in argv
        writer = Writer(store, Spool(spool_dir), max_batch_rows=rows, max_batch_age_s=3600, durable=durable, background=False)
        with sigterm_as_exit():
            try:
                for i in range(batches):
                    writer.write("samples", batch(i, rows if durable else rows // 2))
                    print(f"acked {i}", flush=True)
                print("done", flush=True)
                time.sleep(3600)  # wait to be killed or terminated
            finally:
                writer.close()
                print("closed", flush=True)
    else:
        writer = Writer(store, Spool(spool_dir), background=False)
        remaining = writer.replay()
        writer.close()
        n, distinct, batches = store.query_rows("SELECT count(), uniqExact(series_id, ts), uniqExact(ts) FROM samples")[0]
        print(f"{n} {distinct} {batches} {remaining}", flush=True)
    store.close()


if __name__ == "__main__":
    main(sys.argv[1:])
