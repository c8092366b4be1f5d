"""`python -m cli run` starts everything (make run); `python -m cli load-demo` loads the demo city;
`python -m cli create-admin` creates an administrator (the first one of a deployment without the demo);
`python -m cli verify-trail` checks the trails against their seals (docs/operations.md)."""

import argparse
import asyncio
import getpass
import os
import secrets
import sys
from dataclasses import dataclass
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
    from cli.demo.city import load_demo
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


# ---- create-admin ------------------------------------------------------------------------------

GENERATED_PASSWORD_BYTES = 18  # 24 URL-safe characters, 144 bits


class AdminRefused(Exception):
    """The account cannot be created as asked; the message says why (no secret in it)."""


@dataclass(frozen=True)
class NewCity:
    code: str
    name: str
    name_en: str | None = None


@dataclass(frozen=True)
class CreatedAdmin:
    username: str
    scope_code: str
    scope_name: str
    city_created: bool


def _validation_messages(exc: Exception) -> str:
    """A pydantic error's field messages, without the input values (which may be the password)."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return str(exc)
    messages = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        context = error.get("ctx") or {}
        if error["type"] == "too_short":
            what = f"too short: at least {context['min_length']} characters"
        elif error["type"] == "too_long":
            what = f"too long: at most {context['max_length']} characters"
        else:
            what = error["msg"]
        messages.append(f"{where}: {what}")
    return "; ".join(messages)


async def _create_admin(
    username: str, display_name: str, password: str, scope_code: str | None, city: NewCity | None
) -> CreatedAdmin:
    """Create an admin account scoped to `scope_code` (default: the city), and the city first if asked.

    One transaction: either both the city and the account exist afterwards, or neither.
    """
    from pydantic import ValidationError
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from services.identity.schemas import StaffCreate
    from services.identity.service import create_staff
    from services.models import OrgUnit, StaffAccount
    from services.org.schemas import OrgUnitCreate
    from services.org.service import create_unit
    from shared.auth import Principal
    from shared.db import dispose_engine, unit_of_work
    from shared.errors import AppError

    # The operator at the console: above every org unit, like an integration (scope "/"), which
    # is also what creating the root org unit takes.
    console = Principal(kind="integration", id=0, name="python -m cli create-admin", scope_path="/")
    try:
        async with unit_of_work() as session:
            root = await session.scalar(select(OrgUnit).where(OrgUnit.parent_id.is_(None)).limit(1))
            if city is not None:
                if root is not None:
                    raise AdminRefused(
                        f"the city already exists ({root.code} {root.name}); drop --city-code/--city-name"
                        " (the admin is scoped to the city by default, or to --scope)"
                    )
                try:
                    city_data = OrgUnitCreate(code=city.code, name=city.name, name_en=city.name_en, level="city")
                except ValidationError as exc:
                    raise AdminRefused(f"invalid city: {_validation_messages(exc)}") from None
                root = await create_unit(session, console, city_data)
            if root is None:
                any_unit = await session.scalar(select(OrgUnit.id).limit(1))
                if any_unit is None:
                    raise AdminRefused(
                        "the database holds no organisation yet: give --city-code and --city-name to create"
                        " the city (the root org unit) together with its first admin"
                    )
                if scope_code is None:
                    raise AdminRefused("no city (root org unit) found: name the admin's org unit with --scope")
            target = scope_code if scope_code is not None else root.code if root is not None else ""
            if await session.scalar(select(StaffAccount.id).where(StaffAccount.username == username)) is not None:
                raise AdminRefused(f"the username {username!r} is taken; choose another one")
            try:
                data = StaffCreate(
                    username=username, display_name=display_name, password=password, role="admin", scope_code=target
                )
            except ValidationError as exc:
                raise AdminRefused(_validation_messages(exc)) from None
            created = await create_staff(session, console, data)
            scope = await session.scalar(select(OrgUnit).where(OrgUnit.code == created.scope_code))
            assert scope is not None
            result = CreatedAdmin(created.username, scope.code, scope.name, city_created=city is not None)
    except AppError as exc:  # what the services refuse: an unknown --scope, a city code in use
        raise AdminRefused(exc.detail) from None
    except IntegrityError:  # a concurrent create-admin took the username (or the city code) first
        raise AdminRefused(f"the username {username!r} (or the city code) was just taken; try again") from None
    finally:
        await dispose_engine()
    return result


def _read_password(args: argparse.Namespace) -> str | None:
    if args.generate_password:
        return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
    if args.password_stdin:
        # The first line, without its line break: `printf '%s\n' "$PW" | python -m cli create-admin ...`
        return sys.stdin.readline().rstrip("\r\n")
    if sys.stdin.isatty():
        first = getpass.getpass("Password for the new admin: ")
        if getpass.getpass("The same password again: ") != first:
            print("error: the two passwords differ; nothing created", file=sys.stderr)
            return None
        return first
    print(
        "error: give --password-stdin (the password on standard input) or --generate-password --show-password",
        file=sys.stderr,
    )
    return None


def create_admin_command(args: argparse.Namespace) -> int:
    """`python -m cli create-admin`: 0 when created, 1 when refused (a message on stderr says why)."""
    if args.generate_password and not args.show_password:
        print(
            "error: a generated password is shown only when asked, and nobody could log in without it:"
            " add --show-password (or pass your own with --password-stdin)",
            file=sys.stderr,
        )
        return 2
    if args.show_password and not args.generate_password:
        print(
            "error: --show-password goes with --generate-password (a password you gave is never printed)",
            file=sys.stderr,
        )
        return 2
    if (args.city_code is None) != (args.city_name is None):
        print("error: --city-code and --city-name go together", file=sys.stderr)
        return 2
    from shared.settings import get_settings

    try:
        get_settings()  # refuses development keys when ENV=production
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    password = _read_password(args)
    if password is None:
        return 1
    city = NewCity(args.city_code, args.city_name, args.city_name_en) if args.city_code is not None else None
    try:
        created = asyncio.run(_create_admin(args.username, args.display_name, password, args.scope, city))
    except AdminRefused as exc:
        print(f"error: {exc}; nothing created", file=sys.stderr)
        return 1
    if created.city_created:
        print(f"Created the city {created.scope_code} {created.scope_name} (the root org unit).")
    print(f"Created the admin account {created.username!r}, scoped to {created.scope_code} {created.scope_name}.")
    if args.show_password:
        print(f"Admin login: {created.username} {password}")
    return 0


async def _trail_command(seal_first: bool) -> int:
    from services.lifecycle.seals import describe, seal, verify_trails
    from shared.db import dispose_engine, unit_of_work

    try:
        if seal_first:
            async with unit_of_work() as session:
                record = await seal(session)
            print(f"sealed: seal {record.seal_no}, {record.leaves} heads" if record else "sealed: nothing new")
        async with unit_of_work() as session:
            report = await verify_trails(session)
    finally:
        await dispose_engine()
    for line in describe(report.findings):
        print(line)
    latest = report.latest_seal
    print(
        f"{'intact' if report.intact else 'NOT INTACT'}: {report.seals} seals, {report.chains} trails,"
        f" {report.events} events, {report.audit_rows} sealed admin audit rows, {len(report.findings)} findings"
        + (f"; latest seal {latest.seal_no} {latest.hash}" if latest else "")
    )
    return 0 if report.intact else 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m cli", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the embedded servers (if needed), the two HTTP apps and the two workers")
    demo = sub.add_parser("load-demo", help="load the Ningbo-like demo city into an empty database")
    demo.add_argument("--if-empty", action="store_true", help="do nothing (and succeed) when data is present")
    demo.add_argument("--credentials-file", type=Path, default=CREDENTIALS_FILE)
    admin = sub.add_parser(
        "create-admin",
        help="create an administrator account (the first one of a deployment without the demo data)",
        description="Create a staff account with the role admin, scoped to the city (the root org unit) or to"
        " --scope. Prints no secret unless asked (--generate-password --show-password). In an empty database"
        " give --city-code and --city-name: the city is created with its first admin, who then creates the"
        " districts, streets, communities and grids below it. Without --password-stdin or --generate-password"
        " the password is asked for on the terminal.",
    )
    admin.add_argument("--username", required=True, help="3-64 characters: letters, digits, _ . -")
    admin.add_argument("--display-name", default="Administrator", help="the name shown for the account")
    source = admin.add_mutually_exclusive_group()
    source.add_argument(
        "--password-stdin", action="store_true", help="read the password (at least 10 characters) from standard input"
    )
    source.add_argument("--generate-password", action="store_true", help="generate a random password")
    admin.add_argument(
        "--show-password", action="store_true", help="print the generated password (on an `Admin login:` line)"
    )
    admin.add_argument("--scope", metavar="CODE", help="the org unit whose subtree the admin sees (default: the city)")
    admin.add_argument("--city-code", metavar="CODE", help="create the city with this code (empty database only)")
    admin.add_argument("--city-name", metavar="NAME", help="the name of the city to create")
    admin.add_argument("--city-name-en", metavar="NAME", help="its English name (optional)")
    trail = sub.add_parser(
        "verify-trail",
        help="check every request trail and the admin audit rows against the seals (exit 1 on any finding)",
    )
    trail.add_argument("--seal-first", action="store_true", help="seal what has settled before checking")
    from cli import pii_rotation  # rotate-pii: PII key rotation (docs/operations.md)

    pii_rotation.add_parser(sub)
    args, rest = parser.parse_known_args(argv)
    if args.command == "rotate-pii":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        return pii_rotation.command(args)
    if args.command == "run":
        ensure_secret_key()
        from cli.run import main as run

        return run(rest)
    if args.command == "verify-trail":
        return asyncio.run(_trail_command(args.seal_first))
    if args.command == "create-admin":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        return create_admin_command(args)
    return load_demo_command(args.if_empty, args.credentials_file)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
