"""WAL frames per request, by table and index: the pages a write makes SQLite put in its log.

    .venv/bin/python -m bench.wal [--op create_project,transition] [--requests 60]

Each frame is a whole page (4 KiB) written to the WAL, later copied into the database by a checkpoint
and flushed by the ledger's seal; a write's share of all three grows with its frames. Every index a
table has is one more page per insert. On a freshly seeded SQLite database (seal held off, no automatic
checkpoint), after a warm-up, the WAL is emptied, the requests run, and each frame's page number is named
by SQLite's `dbstat` table (which table or index, leaf or interior page).
"""

import argparse
import sqlite3
import struct
import sys
import tempfile
from collections import Counter
from pathlib import Path

from .profile import _calls, _request, prepare

WAL_HEADER = 32
FRAME_HEADER = 24


def frames_of(wal: bytes) -> list[int]:
    """The page number of every frame in a WAL file's bytes."""
    page_size = struct.unpack(">I", wal[8:12])[0]
    pages, offset = [], WAL_HEADER
    while offset + FRAME_HEADER + page_size <= len(wal):
        pages.append(struct.unpack(">I", wal[offset:offset + 4])[0])
        offset += FRAME_HEADER + page_size
    return pages


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--op", default="create_project,transition")
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="cc-wal-"))
    database = workdir / "wal.sqlite3"
    app, state, token = prepare(f"sqlite:///{database}", workdir, audit_rows=10_000,
                                AUDIT_SEAL_MIN_INTERVAL="1000000", SQLITE_WAL_AUTOCHECKPOINT="1000000")
    from django.db import connection

    for op in args.op.split(","):
        for method, path, body in _calls(op, state, 30, start=10_000):  # warm-up
            _request(app, method, path, token=token, body=body)
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for method, path, body in _calls(op, state, args.requests, start=10_030):
            _request(app, method, path, token=token, body=body)
        pages = frames_of(Path(f"{database}-wal").read_bytes())
        with sqlite3.connect(database) as raw:
            names = {page: f"{name} ({kind})" for name, page, kind in raw.execute("SELECT name, pageno, pagetype FROM dbstat")}
        print(f"{op}: {len(pages) / args.requests:.1f} WAL frames per request")
        for name, count in Counter(names.get(page, "a new or free page") for page in pages).most_common():
            print(f"  {count / args.requests:6.2f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
