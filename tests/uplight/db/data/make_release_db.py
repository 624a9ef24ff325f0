"""Make ``release-0.1.0.sqlite``: a database written by release 0.1.0, before the
domain packages, with a row in every table.

Run it against that release's code (commit a73f30c), not this checkout's: the point
is a file the old code wrote, which ``test_release_database.py`` opens with the new.

    git worktree add /tmp/release a73f30c
    PYTHONPATH=/tmp/release/core:/tmp/release/plugins \\
        .venv/bin/python tests/uplight/db/data/make_release_db.py
    git worktree remove /tmp/release
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from pathlib import Path

import uplight
from uplight.models import CheckResult, CheckStatus, ResultRecord
from uplight.notifiers import Notification
from uplight.store import incidents, maintenance, outbox, page_edits, tokens
from uplight.store.database import Store

OUT = Path(__file__).with_name("release-0.1.0.sqlite")
AT = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC)
# A known token, so the test can verify it: the release draws a random one.
TOKEN_BODY = "release-fixture-token"


async def fill(store: Store) -> None:
    store.add_result(ResultRecord("web", AT, CheckResult(CheckStatus.UP, 0.125, "200 OK", {})))
    store.add_result(
        ResultRecord(
            "web",
            AT + dt.timedelta(minutes=1),
            CheckResult(CheckStatus.DOWN, None, "connection refused", {"phase": "connect"}),
        )
    )
    await store.flush()

    tokens.secrets.token_urlsafe = lambda nbytes=None: TOKEN_BODY  # type: ignore[assignment]
    await tokens.create_token(store, "release")

    async def open_incident(db: object) -> int:
        return await incidents.insert_incident(
            db,  # type: ignore[arg-type]
            monitor_id="web",
            monitor_name="Website",
            severity="major",
            started_at=AT + dt.timedelta(minutes=1),
            at=AT + dt.timedelta(minutes=1),
        )

    incident_id = await store.write(open_incident)
    await incidents.add_incident_update(
        store,
        incident_id,
        phase="identified",
        message="The upstream host is down.",
        created_by="release",
        at=AT + dt.timedelta(minutes=2),
    )

    fields = maintenance.WindowFields(
        title="Router firmware",
        description="A short reboot.",
        severity="warning",
        component_ids=("web",),
        starts_at=AT + dt.timedelta(days=1),
        ends_at=AT + dt.timedelta(days=1, hours=1),
    )

    async def schedule(db: object) -> int | None:
        return await maintenance.insert_window(
            db,  # type: ignore[arg-type]
            fields,
            status="scheduled",
            now=AT,
            created_by="release",
        )

    assert await store.write(schedule) is not None  # OR IGNORE: a refused row is silent

    await page_edits.create_page(
        store, slug="home", title="Home services", hostname=None, default=True, now=AT
    )
    await page_edits.add_component(store, "home", "web", {"public_name": "Website"}, AT)

    message = Notification(
        event="incident_opened",
        idempotency_key=f"incident-{incident_id}-opened",
        title="Website is down",
        text="connection refused",
        monitor_id="web",
        monitor_name="Website",
        severity="major",
        incident_id=incident_id,
        started_at=AT + dt.timedelta(minutes=1),
        created_at=AT + dt.timedelta(minutes=1),
    )

    async def queue(db: object) -> int | None:
        return await outbox.insert(db, "ops", message, AT + dt.timedelta(minutes=1))  # type: ignore[arg-type]

    assert await store.write(queue) is not None


async def main() -> None:
    assert uplight.__version__ == "0.1.0", uplight.__file__
    OUT.unlink(missing_ok=True)
    async with Store(OUT) as store:
        await fill(store)
    # One file to commit: the WAL folded in (the file stays in WAL mode, as the release
    # leaves it; SQLite makes a fresh -wal beside it when it is opened).
    conn = sqlite3.connect(OUT)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for suffix in ("-wal", "-shm"):
        assert not OUT.with_name(OUT.name + suffix).exists(), suffix
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    asyncio.run(main())
