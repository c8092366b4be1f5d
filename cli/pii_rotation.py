"""`python -m cli rotate-pii`: re-encrypt citizens' names and phones under the newest PII key, and with
`--hashes` recompute the phones' matching hashes, in batches, while the platform runs (docs/operations.md).

In the foreground by default (progress on stdout; Ctrl-C stops it, and running it again resumes after the
last batch); `--enqueue` hands it to the long-queue worker instead; `--status` shows the latest runs.
Exit 0: done (or queued, or shown); 1: refused or failed (a message says why).
"""

import argparse
import asyncio
import sys
from typing import Any

CLI_ACTOR = "system:cli"
CLI_NAME = "python -m cli rotate-pii"
PRINT_EVERY = 20  # batches between two progress lines


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "rotate-pii",
        help="re-encrypt citizens' names and phones under the newest PII key (and --hashes: recompute phone hashes)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--batch", type=int, metavar="N", help="rows per batch (default PII_ROTATION_BATCH)")
    parser.add_argument(
        "--hashes",
        action="store_true",
        help="also recompute the phones' matching hashes under PII_HASH_KEY (needs PII_HASH_KEY_PREVIOUS)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--enqueue", action="store_true", help="hand the run to the long-queue worker and return")
    mode.add_argument("--status", action="store_true", help="show the latest runs and the key ids in force")


def describe(rotation: Any) -> str:
    """One line of a run's progress (counts only: never a value)."""
    counts = rotation.counts or {}
    where = f"pass {rotation.pass_no}, {rotation.phase} after id {rotation.cursor}"
    line = (
        f"rotation {rotation.id} [{rotation.state}] key {rotation.key_id}{' +hashes' if rotation.hashes else ''}:"
        f" {where}; scanned {counts.get('scanned', 0)}, re-encrypted {counts.get('reencrypted', 0)},"
        f" hashes recomputed {counts.get('recomputed', 0)}, locked rows left for a later pass"
        f" {counts.get('locked_skipped', 0)}, unreadable {counts.get('unreadable', 0)}"
    )
    return line + (f"; {rotation.error}" if rotation.error else "")


async def _status() -> int:
    from services.intake import pii_rotation
    from shared.db import dispose_engine, unit_of_work

    try:
        keys = pii_rotation.keys_in_force()
        print(
            f"keys: newest PII key {keys.encryption_key_id} (configured: {keys.encryption_key_ids});"
            f" previous hash key {'set' if keys.hash_rotation else 'not set'}"
        )
        async with unit_of_work() as session:
            rotations = await pii_rotation.recent(session)
    finally:
        await dispose_engine()
    for rotation in rotations:
        print(describe(rotation))
    if not rotations:
        print("no rotation yet")
    return 0


async def _rotate(hashes: bool, batch: int | None, enqueue: bool) -> int:
    from services.intake import pii_rotation
    from shared.db import dispose_engine, unit_of_work
    from shared.errors import AppError

    batches = 0

    async def progress(rotation: Any) -> None:
        nonlocal batches
        batches += 1
        if batches % PRINT_EVERY == 1 or rotation.state != "running":
            print(describe(rotation), flush=True)

    try:
        async with unit_of_work() as session:
            rotation = await pii_rotation.running(session)
            if rotation is not None:
                if hashes and not rotation.hashes:
                    print(
                        f"error: rotation {rotation.id} (without --hashes) is running; let it finish, then run"
                        " again with --hashes",
                        file=sys.stderr,
                    )
                    return 1
                if batch is not None:
                    rotation.batch = batch
                print(f"resuming rotation {rotation.id} (pass {rotation.pass_no}, {rotation.phase})")
            else:
                rotation = await pii_rotation.start(session, CLI_ACTOR, hashes=hashes, batch=batch, actor_name=CLI_NAME)
                print(f"started rotation {rotation.id}: every value to key {rotation.key_id}")
            rotation_id = rotation.id
            if enqueue:
                pii_rotation.schedule(session, rotation)
        if enqueue:
            print(f"queued on the long-queue worker: follow it with `{CLI_NAME} --status`")
            return 0
        finished = await pii_rotation.run(unit_of_work, rotation_id, on_progress=progress)
    except AppError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    finally:
        await dispose_engine()
    if finished.state == "done":
        print(f"done: every value opens under key {finished.key_id}; the older PII keys may now be removed")
        if finished.hashes:
            print("done: every stored phone hash is under PII_HASH_KEY; remove PII_HASH_KEY_PREVIOUS")
        return 0
    print(f"error: {describe(finished)}", file=sys.stderr)
    return 1


def command(args: argparse.Namespace) -> int:
    """Run `rotate-pii` as parsed by `cli.__main__`."""
    from shared.settings import get_settings

    if args.batch is not None and not 1 <= args.batch <= 10_000:
        print("error: --batch takes 1 to 10000 rows", file=sys.stderr)
        return 2
    try:
        get_settings()  # refuses development keys when ENV=production
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.status:
        return asyncio.run(_status())
    try:
        return asyncio.run(_rotate(args.hashes, args.batch, args.enqueue))
    except KeyboardInterrupt:
        print(f"stopped; `{CLI_NAME}` resumes after the last batch", file=sys.stderr)
        return 130
