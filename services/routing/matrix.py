"""The responsibility matrix (职责清单): which rule decides, as a pure function."""

from dataclasses import dataclass

from services.sla.policy import prefix_matches, specificity


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    category_prefix: str
    unit_path: str  # the rule's org unit, as a materialised path
    handler_kind: str  # grid_team | department | joint
    lead_department_id: int | None
    co_department_ids: tuple[int, ...]


def unit_depth(path: str) -> int:
    return path.count("/") - 1


def matching_rules(rules: list[Rule], category: str, location_path: str) -> list[Rule]:
    """Rules for this category at the location or one of its ancestors."""
    return [r for r in rules if prefix_matches(r.category_prefix, category) and location_path.startswith(r.unit_path)]


def choose_rule(rules: list[Rule], category: str, location_path: str) -> Rule | None:
    """A more specific category beats a more specific unit; creation refuses ties on both."""
    candidates = matching_rules(rules, category, location_path)
    if not candidates:
        return None
    return max(candidates, key=lambda r: (specificity(r.category_prefix), unit_depth(r.unit_path)))
