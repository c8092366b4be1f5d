"""`python -m cli run` starts everything (make run); `python -m cli load-demo` loads the demo city."""

import argparse
import asyncio
import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / ".data"
CREDENTIALS_FILE = DATA_DIR / "demo-credentials.txt"
SECRET_FILE = DATA_DIR / "secret_key"


def ensure_secret_key() -> None:
    """Give a local run a stable random SECRET_KEY (kept in .data/) unless one is configured."""
    if os.environ.get("SECRET_KEY"):
        return
    DATA_DIR.mkdir(exist_ok=True)
    if not SECRET_FILE.exists():
        SECRET_FILE.write_text(secrets.token_urlsafe(48))
        SECRET_FILE.chmod(0o600)
    os.environ["SECRET_KEY"] = SECRET_FILE.read_text().strip()


async def _load_demo_if_empty() -> list[str] | None:
    """Load the demo city; None when the database already holds an organisation."""
    from services.org.demo import load_demo
    from services.org.repository import is_empty
    from shared.db import dispose_engine, unit_of_work

    try:
        async with unit_of_work() as session:
            if not await is_empty(session):
                return None
            credentials = await load_demo(session)
        return credentials.lines()
    finally:
        await dispose_engine()


def load_demo_command(if_empty: bool, credentials_file: Path) -> int:
    lines = asyncio.run(_load_demo_if_empty())
    if lines is None:
        if not if_empty:
            print("The database already holds an organisation; nothing loaded.", file=sys.stderr)
            return 1
        if credentials_file.exists():
            print("Demo city already loaded. Credentials from the first load:")
            print(credentials_file.read_text().rstrip())
        else:
            print("Data already present; demo not loaded (no demo credentials on file).")
        return 0
    credentials_file.parent.mkdir(parents=True, exist_ok=True)
    credentials_file.write_text("\n".join(lines) + "\n")
    credentials_file.chmod(0o600)
    print("Demo city loaded.")
    for line in lines:
        print(line)
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m cli", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the embedded servers (if needed), the two HTTP apps and the two workers")
    demo = sub.add_parser("load-demo", help="load the Ningbo-like demo city into an empty database")
    demo.add_argument("--if-empty", action="store_true", help="do nothing (and succeed) when data is present")
    demo.add_argument("--credentials-file", type=Path, default=CREDENTIALS_FILE)
    args, rest = parser.parse_known_args(argv)
    if args.command == "run":
        ensure_secret_key()
        from cli.run import main as run

        return run(rest)
    return load_demo_command(args.if_empty, args.credentials_file)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
