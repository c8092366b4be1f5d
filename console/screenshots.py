"""Regenerate the console's screenshots in docs/console/ (`make screenshots`, `python -m console.screenshots`).

They are taken by the browser tests themselves (tests/console/), which drive the real platform with the demo
city in headless Chromium: the tests run with `CONSOLE_SCREENSHOTS` naming the folder, and each page they
visit is saved there as a PNG. The test database and Redis are the suite's (127.0.0.1 when they answer, else
embedded; `TEST_DATABASE_URL` / `TEST_REDIS_URL` override them). Chinese text needs a CJK font on the
machine (Debian: `apt-get install fonts-wqy-microhei` or `fonts-noto-cjk`); the console itself serves none.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FOLDER = ROOT / "docs" / "console"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_FOLDER, help="where the PNGs go (default docs/console)")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    env = {**os.environ, "CONSOLE_SCREENSHOTS": str(out), "MINQING_REQUIRE_BROWSER": "1"}
    command = [sys.executable, "-m", "pytest", "tests/console"]
    code = subprocess.call(command, cwd=ROOT, env=env)
    shots = sorted(p.name for p in out.glob("*.png"))
    print(f"{len(shots)} screenshots in {out}: {', '.join(shots)}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
