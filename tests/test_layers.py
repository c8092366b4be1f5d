"""The code's layers hold: `shared/` imports no domain or app; the domain packages under `services/` form
the layer order written in docs/architecture.md (each imports only those below it: no two import each
other, directly or around a circle); no domain imports an app or a web or queue framework."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Bottom to top, as in docs/architecture.md ("Layers"). `models` holds every table.
LAYERS = [
    "models",
    "audit",
    "config",
    "org",
    "identity",
    "sla",
    "webhooks",
    "messages",
    "lifecycle",
    "attachments",
    "intake",
    "routing",
    "handling",
    "supervision",
    "alerts",
    "open311",
    "search",
    "scoring",
]
APPS = ("intake_api", "scoring_service", "routing_worker", "cli", "console", "bench", "tests")
FRAMEWORKS = ("fastapi", "starlette", "arq", "uvicorn")


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def domain_edges() -> dict[str, set[str]]:
    """domain -> the other domains it imports."""
    edges: dict[str, set[str]] = {}
    for package in sorted(p for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists()):
        targets: set[str] = set()
        for path in package.rglob("*.py"):
            for name in _imports(path):
                parts = name.split(".")
                in_services = parts[0] == "services" and len(parts) > 1 and parts[1] != package.name
                if in_services and (ROOT / "services" / parts[1] / "__init__.py").exists():
                    targets.add(parts[1])
        edges[package.name] = targets
    return edges


def test_every_domain_package_has_its_place_in_the_layer_order():
    assert set(domain_edges()) == set(LAYERS)


def test_each_domain_imports_only_domains_below_it():
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward = sorted(
        f"services.{domain} imports services.{target}"
        for domain, targets in domain_edges().items()
        for target in targets
        if rank[target] >= rank[domain]
    )
    assert upward == []


def test_shared_imports_no_domain_and_domains_import_no_app_or_framework():
    wrong: list[str] = []
    for path in (ROOT / "shared").rglob("*.py"):
        wrong += [f"{path.relative_to(ROOT)}: {n}" for n in _imports(path) if n.split(".")[0] in ("services", *APPS)]
    for path in (ROOT / "services").rglob("*.py"):
        wrong += [f"{path.relative_to(ROOT)}: {n}" for n in _imports(path) if n.split(".")[0] in (*APPS, *FRAMEWORKS)]
    assert wrong == []
