"""From counts to scores: roll the tally up the org tree, then rates, priors, case mix, indices, ranks,
cadre evaluation (SPEC §7). Pure: no I/O; the same inputs give the same results, bit for bit.

Attribution to org units (see docs/scoring.md): a unit's counts are those of the handling units under it.
A grid's own are its grid team's; a district's (or the city's) own are those of the departments scoped to
it and of its dispatch centre; every unit adds its children's. So the city holds everything and
`counts(unit) = Σ counts(children) + counts(units attached to it)` holds everywhere.

Results are built as plain dicts in their stored, packed form (`figures`): a run has thousands of
subjects, and the API's models validate them when read. What is the same for every subject of a level
(the priors) or of the run (the city's per-category baselines) is kept once, in the run's summary.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from services.scoring.figures import RATE_PARTS, pack_rate
from services.scoring.periods import Period
from services.scoring.schemas import RATE_NAMES
from services.scoring.scheme import SchemeDocument
from services.scoring.stats import (
    BetaPrior,
    case_mix_adjusted,
    category_baselines,
    expected_rate,
    fit_prior,
    renormalised_mean,
    satisfaction_rate,
    shrink,
    wilson_interval,
)
from services.scoring.tally import CategoryCounts, Tally, Vector, has_data, merge_into, rate_inputs, total

UNIT_LEVELS = ("city", "district", "street", "community", "grid")
THREE_RATES = {"response": "response_rate", "resolution": "resolution_rate", "satisfaction": "satisfaction_rate"}
DISPATCH_CENTRE = "调度中心"
SourceKind = Literal["child_unit", "grid_team", "department", "dispatch_centre"]
LinkKind = Literal["org_unit", "department"]
Figures = dict[str, Any]
VALUE, SHRUNK = RATE_PARTS.index("value"), RATE_PARTS.index("shrunk")


@dataclass(frozen=True, slots=True)
class UnitInfo:
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None
    path: str


@dataclass(frozen=True, slots=True)
class DepartmentInfo:
    id: int
    code: str
    name: str
    scope_unit_id: int


@dataclass(frozen=True, slots=True)
class StaffInfo:
    id: int
    name: str
    scope_code: str
    path: str


@dataclass(slots=True)
class OrgData:
    """The organisation as scoring needs it, read whole."""

    units: dict[int, UnitInfo]
    teams: dict[int, tuple[int, str]]  # team id → (grid unit id, team name)
    departments: dict[int, DepartmentInfo]
    members: dict[int, list[tuple[int | None, int | None, str]]]  # staff id → [(team, department, role)]
    by_path: dict[str, int] = field(default_factory=dict)
    children: dict[int, list[int]] = field(default_factory=dict)
    roots: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.by_path = {u.path: u.id for u in self.units.values()}
        for unit in sorted(self.units.values(), key=lambda u: u.code):
            if unit.parent_id is None or unit.parent_id not in self.units:
                self.roots.append(unit.id)
            else:
                self.children.setdefault(unit.parent_id, []).append(unit.id)

    def dispatch_unit(self, located_unit_id: int) -> int | None:
        """The unit whose dispatch centre holds a request located at `located_unit_id` (its district, or the city)."""
        unit = self.units.get(located_unit_id)
        if unit is not None:
            parts = [p for p in unit.path.split("/") if p]
            district = self.by_path.get("/" + "/".join(parts[:2]) + "/") if len(parts) >= 2 else unit.id
            if district is not None:
                return district
        return self.roots[0] if self.roots else None

    def grid_workers(self) -> set[int]:
        return {staff for staff, homes in self.members.items() if any(role == "grid_worker" for *_, role in homes)}


@dataclass(slots=True)
class Extras:
    """What scoring reads besides the cohort: appeals, assessments, visits, leader links, staff."""

    appealed: list[tuple[int, int | None, int | None]] = field(default_factory=list)  # (request, team, dept)
    assessments: dict[tuple[int, str], tuple[int, Decimal]] = field(default_factory=dict)  # → (count, Σ score)
    visits: list[tuple[int, int, str, int, int]] = field(default_factory=list)  # (staff, unit, kind, n, households)
    links: list[Any] = field(default_factory=list)
    staff: dict[int, StaffInfo] = field(default_factory=dict)


@dataclass(slots=True)
class Subject:
    level: str
    code: str
    name: str
    parent_code: str | None
    path: str
    counts: CategoryCounts
    totals: Vector
    sources: list[list[Any]] = field(default_factory=list)  # [kind, code, name, counts]
    appealed: list[int] = field(default_factory=list)
    unit_id: int | None = None
    inputs: dict[str, tuple[float, int]] = field(default_factory=dict)


@dataclass(slots=True)
class ResultRow:
    level: str
    subject_code: str
    name: str
    parent_code: str | None
    path: str
    rank: int | None
    three_rate_score: float | None
    satisfaction_index: float | None
    cadre_score: float | None
    figures: Figures

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "subject_code": self.subject_code,
            "name": self.name,
            "parent_code": self.parent_code,
            "path": self.path,
            "rank": self.rank,
            "three_rate_score": self.three_rate_score,
            "satisfaction_index": self.satisfaction_index,
            "cadre_score": self.cadre_score,
            "figures": self.figures,
        }


@dataclass(slots=True)
class Computation:
    """Every result of a run, and what its subjects share (the run's summary)."""

    rows: list[ResultRow]
    summary: Figures


# ---- rolling up --------------------------------------------------------------------------------


def _source(kind: SourceKind, code: str, name: str, totals: Sequence[int]) -> list[Any]:
    return [kind, code, name, list(totals)]


def _unit_subjects(tally: Tally, org: OrgData) -> dict[int, Subject]:
    """Every org unit with its counts: what is attached to it, plus its children's."""
    direct: dict[int, list[tuple[list[Any], CategoryCounts]]] = {}

    def attach(unit_id: int | None, kind: SourceKind, code: str, name: str, attached: CategoryCounts) -> None:
        if unit_id is not None and unit_id in org.units:
            direct.setdefault(unit_id, []).append((_source(kind, code, name, total(attached)), attached))

    for team_id in sorted(tally.team):
        if team_id in org.teams:
            grid_id, team_name = org.teams[team_id]
            grid = org.units.get(grid_id)
            attach(grid_id, "grid_team", grid.code if grid else str(team_id), team_name, tally.team[team_id])
    for department in sorted(org.departments.values(), key=lambda d: d.code):
        if department.id in tally.department:
            attach(
                department.scope_unit_id,
                "department",
                department.code,
                department.name,
                tally.department[department.id],
            )
    by_centre: dict[int, CategoryCounts] = {}
    for located in sorted(tally.dispatch):
        centre = org.dispatch_unit(located)
        if centre is not None:
            merge_into(by_centre.setdefault(centre, {}), tally.dispatch[located])
    for centre, centre_counts in sorted(by_centre.items()):
        unit = org.units[centre]
        attach(centre, "dispatch_centre", unit.code, unit.name + DISPATCH_CENTRE, centre_counts)

    subjects: dict[int, Subject] = {}
    # Deepest first, so every child is complete before its parent adds it.
    for unit in sorted(org.units.values(), key=lambda u: (-u.path.count("/"), u.code)):
        counts: CategoryCounts = {}
        sources: list[list[Any]] = []
        for child_id in org.children.get(unit.id, []):
            child = subjects[child_id]
            merge_into(counts, child.counts)
            sources.append(_source("child_unit", child.code, child.name, child.totals))
        for source, attached in direct.get(unit.id, []):
            merge_into(counts, attached)
            sources.append(source)
        parent = org.units.get(unit.parent_id) if unit.parent_id is not None else None
        subjects[unit.id] = Subject(
            level=unit.level,
            code=unit.code,
            name=unit.name,
            parent_code=parent.code if parent else None,
            path=unit.path,
            counts=counts,
            totals=total(counts),
            sources=sources,
            unit_id=unit.id,
        )
    return subjects


def _department_subjects(tally: Tally, org: OrgData) -> dict[int, Subject]:
    subjects: dict[int, Subject] = {}
    for department in sorted(org.departments.values(), key=lambda d: d.code):
        counts = tally.department.get(department.id, {})
        scope = org.units.get(department.scope_unit_id)
        subjects[department.id] = Subject(
            level="department",
            code=department.code,
            name=department.name,
            parent_code=scope.code if scope else None,
            path=scope.path if scope else "/",
            counts=counts,
            totals=total(counts),
        )
    return subjects


def _apply_appeals(extras: Extras, org: OrgData, units: dict[int, Subject], departments: dict[int, Subject]) -> None:
    """List, on each unit and its ancestors, the requests approved appeals removed from its rates."""
    for request_id, team_id, dept_id in extras.appealed:
        unit_id: int | None = None
        if team_id is not None and team_id in org.teams:
            unit_id = org.teams[team_id][0]
        elif dept_id is not None and dept_id in org.departments:
            departments[dept_id].appealed.append(request_id)
            unit_id = org.departments[dept_id].scope_unit_id
        while unit_id is not None and unit_id in units:
            if request_id not in units[unit_id].appealed:
                units[unit_id].appealed.append(request_id)
            unit_id = org.units[unit_id].parent_id


# ---- rates -------------------------------------------------------------------------------------


@dataclass(slots=True)
class CityBaseline:
    baselines: dict[str, dict[str, float]]  # rate → category → city-wide rate
    means: dict[str, float | None]


def _rate_denominators(v: Sequence[int]) -> dict[str, int]:
    return {
        "response_rate": v[0],
        "resolution_rate": v[2],
        "satisfaction_rate": v[2],
        "on_time_resolution_rate": v[10],
        "reopen_rate": v[7],
        "return_rate": v[12],
        "no_evaluation_share": v[2] + v[9],
    }


def _city_baseline(city_counts: CategoryCounts, points: tuple[float, float, float]) -> CityBaseline:
    per_rate: dict[str, dict[str, tuple[float, int]]] = {rate: {} for rate in RATE_NAMES}
    for category in sorted(city_counts):
        for rate, pair in rate_inputs(city_counts[category], points).items():
            per_rate[rate][category] = pair
    city_totals = rate_inputs(total(city_counts), points)
    return CityBaseline(
        baselines={rate: category_baselines(per_rate[rate]) for rate in RATE_NAMES},
        means={rate: (x / n if n > 0 else None) for rate, (x, n) in city_totals.items()},
    )


def _fit_level_priors(subjects: Iterable[Subject], scheme: SchemeDocument) -> dict[str, BetaPrior | None]:
    observations: dict[str, list[tuple[float, int]]] = {rate: [] for rate in RATE_NAMES}
    for subject in subjects:
        for rate in RATE_NAMES:
            observations[rate].append(subject.inputs[rate])
    s = scheme.shrinkage
    return {
        rate: fit_prior(
            observations[rate],
            min_units=s.min_units,
            fallback_strength=s.fallback_strength,
            min_strength=s.min_strength,
            max_strength=s.max_strength,
        )
        for rate in RATE_NAMES
    }


def _prior_dict(prior: BetaPrior | None) -> Figures | None:
    if prior is None:
        return None
    return {"mean": prior.mean, "strength": prior.strength, "method": prior.method, "units": prior.units}


@dataclass(frozen=True, slots=True)
class Settings:
    """The scheme's numbers, unpacked once."""

    points: tuple[float, float, float]
    z: float
    three_rate_weights: dict[str, float]
    index_weights: dict[str, float]
    cadre_weights: dict[str, float]
    process_weights: dict[str, float]

    @classmethod
    def of(cls, scheme: SchemeDocument) -> "Settings":
        return cls(
            points=scheme.satisfaction_points.as_tuple(),
            z=scheme.interval.z,
            three_rate_weights=scheme.three_rate_weights.model_dump(),
            index_weights=scheme.satisfaction_index_weights.model_dump(),
            cadre_weights=scheme.cadre.weights.model_dump(),
            process_weights=scheme.cadre.handler_process_weights.model_dump(),
        )


def _rates(subject: Subject, priors: Mapping[str, BetaPrior | None], city: CityBaseline, cfg: Settings) -> Figures:
    """Every rate of a subject, packed (figures.RATE_PARTS): raw, successes, n, Wilson interval, shrunk,
    expected, case-mix adjusted."""
    denominators = [(category, _rate_denominators(subject.counts[category])) for category in sorted(subject.counts)]
    out: Figures = {}
    for rate in RATE_NAMES:
        x, n = subject.inputs[rate]
        if rate == "satisfaction_rate":
            value = satisfaction_rate(subject.totals[4:7], cfg.points)
        else:
            value = x / n if n > 0 else None
        interval = wilson_interval(x, n, cfg.z)
        prior = priors.get(rate)
        expected = expected_rate(((c, d[rate]) for c, d in denominators), city.baselines[rate]) if n > 0 else None
        out[rate] = pack_rate(
            value,
            x,
            n,
            interval,
            shrink(x, n, prior) if prior is not None else None,
            expected,
            case_mix_adjusted(value, expected, city.means[rate]),
        )
    return out


def _three_rate(rates: Figures, cfg: Settings) -> Figures:
    shrunk = {part: rates[rate][SHRUNK] for part, rate in THREE_RATES.items()}
    raw = {part: rates[rate][VALUE] for part, rate in THREE_RATES.items()}
    value, used, missing = renormalised_mean(shrunk, cfg.three_rate_weights)
    raw_value, _, raw_missing = renormalised_mean(raw, cfg.three_rate_weights)
    return {
        "value": 100 * value if value is not None else None,
        "raw": 100 * raw_value if raw_value is not None else None,
        "weights_used": used,
        "missing_components": missing,
        "raw_missing_components": raw_missing,
    }


def _assessment_mean(extras: Extras, unit_id: int | None, source: str) -> tuple[float | None, int]:
    if unit_id is None or (unit_id, source) not in extras.assessments:
        return None, 0
    count, summed = extras.assessments[(unit_id, source)]
    return float(summed / Decimal(count)), count


def _satisfaction_index(rates: Figures, extras: Extras, unit_id: int | None, cfg: Settings) -> Figures:
    residents_rate = rates["satisfaction_rate"][SHRUNK]
    organisations, n_org = _assessment_mean(extras, unit_id, "resident_organisation")
    opinion, n_opinion = _assessment_mean(extras, unit_id, "public_opinion")
    components = {
        "residents": 100 * residents_rate if residents_rate is not None else None,
        "resident_organisations": organisations,
        "public_opinion": opinion,
    }
    value, used, missing = renormalised_mean(components, cfg.index_weights)
    return {
        "value": value,
        "components": components,
        "weights_used": used,
        "missing_components": missing,
        "assessments": {"resident_organisations": n_org, "public_opinion": n_opinion},
    }


def competition_ranks(scored: Sequence[tuple[str, float | None]], *, descending: bool = True) -> dict[str, int]:
    """Ranks 1, 2, 2, 4, … on the value (ties share a rank); subjects without a value are not ranked."""
    present = [(code, value) for code, value in scored if value is not None]
    present.sort(key=lambda cv: ((-cv[1] if descending else cv[1]), cv[0]))
    ranks: dict[str, int] = {}
    previous: float | None = None
    rank = 0
    for position, (code, value) in enumerate(present, start=1):
        if previous is None or value != previous:
            rank = position
        ranks[code] = rank
        previous = value
    return ranks


def _case_mix_n(subject: Subject) -> dict[str, list[int]]:
    """Per category, the denominator of each rate in RATE_NAMES order (categories with none left out)."""
    out = {}
    for category in sorted(subject.counts):
        n = list(_rate_denominators(subject.counts[category]).values())
        if any(n):
            out[category] = n
    return out


def _prepare(subjects: Iterable[Subject], cfg: Settings) -> None:
    for subject in subjects:
        subject.inputs = rate_inputs(subject.totals, cfg.points)


def _unit_rows(
    subjects: Sequence[Subject], priors: Mapping[str, BetaPrior | None], city: CityBaseline, extras: Extras, cfg: Settings,
    scheme: SchemeDocument,
) -> list[ResultRow]:  # fmt: skip
    drafts = []
    for subject in subjects:
        rates = _rates(subject, priors, city, cfg)
        drafts.append(
            (subject, rates, _three_rate(rates, cfg), _satisfaction_index(rates, extras, subject.unit_id, cfg))
        )
    ranks = competition_ranks(
        [(subject.code, three["value"] if has_data(subject.totals) else None) for subject, _, three, _ in drafts]
    )
    rows = []
    for subject, rates, three, index in drafts:
        rank = ranks.get(subject.code)
        figures = {
            "level": subject.level,
            "code": subject.code,
            "name": subject.name,
            "parent_code": subject.parent_code,
            "rank": rank,
            "ranked": len(ranks),
            "grade": scheme.grade(three["value"]),
            "three_rate_score": three,
            "satisfaction_index": index,
            "rates": rates,
            "counts": list(subject.totals),
            "breakdown": {
                "sources": subject.sources,
                "case_mix_n": _case_mix_n(subject),
                "appeals": {"approved": len(subject.appealed), "request_ids": sorted(subject.appealed)},
            },
        }
        rows.append(
            ResultRow(
                level=subject.level,
                subject_code=subject.code,
                name=subject.name,
                parent_code=subject.parent_code,
                path=subject.path,
                rank=rank,
                three_rate_score=three["value"],
                satisfaction_index=index["value"],
                cadre_score=None,
                figures=figures,
            )
        )
    return rows


# ---- cadres ------------------------------------------------------------------------------------


def _visit_counts(extras: Extras) -> tuple[dict[int, tuple[int, int]], dict[int, dict[int, int]]]:
    """Household visits per staff (visits, households), and leader contacts per staff per unit."""
    household: dict[int, tuple[int, int]] = {}
    contacts: dict[int, dict[int, int]] = {}
    for staff_id, unit_id, kind, n, households in extras.visits:
        if kind == "household":
            visits, homes = household.get(staff_id, (0, 0))
            household[staff_id] = (visits + n, homes + households)
        elif kind == "leader_contact":
            per_unit = contacts.setdefault(staff_id, {})
            per_unit[unit_id] = per_unit.get(unit_id, 0) + n
    return household, contacts


def _link_contacts(link: Any, per_unit: Mapping[int, int], org: OrgData) -> tuple[LinkKind, str, str, int]:
    """(unit kind, code, name, contacts): org-unit links count contacts anywhere in the unit's subtree;
    department links count contacts logged at the department's scope unit itself (visits carry no department)."""
    if link.org_unit_id is not None:
        unit = org.units.get(link.org_unit_id)
        if unit is None:
            return "org_unit", str(link.org_unit_id), "", 0
        contacts = sum(n for unit_id, n in per_unit.items() if org.units[unit_id].path.startswith(unit.path))
        return "org_unit", unit.code, unit.name, contacts
    department = org.departments.get(link.department_id)
    if department is None:
        return "department", str(link.department_id), "", 0
    return "department", department.code, department.name, per_unit.get(department.scope_unit_id, 0)


def _quota(link: Any, period: Period) -> int:
    return int({"month": link.quota_month, "quarter": link.quota_quarter, "year": link.quota_year}[period.kind])


def leader_links(extras: Extras, org: OrgData, period: Period) -> dict[int, list[Figures]]:
    """Every leader's links with contacts against the period's quota."""
    _, contacts = _visit_counts(extras)
    out: dict[int, list[Figures]] = {}
    for link in extras.links:
        per_unit = {u: n for u, n in contacts.get(link.leader_id, {}).items() if u in org.units}
        kind, code, name, count = _link_contacts(link, per_unit, org)
        quota = _quota(link, period)
        out.setdefault(link.leader_id, []).append(
            {
                "link_id": link.id,
                "post": link.post,
                "unit_kind": kind,
                "unit_code": code,
                "unit_name": name,
                "quota": quota,
                "contacts": count,
                "met": count >= quota if quota > 0 else None,
                "compliance": min(1.0, count / quota) if quota > 0 else None,
            }
        )
    return out


def _contacts(links: list[Figures]) -> Figures:
    with_quota = [link for link in links if link["quota"] > 0]
    compliance = sum(link["compliance"] for link in with_quota) / len(with_quota) if with_quota else None
    coverage = sum(1 for link in with_quota if link["met"]) / len(with_quota) if with_quota else None
    return {"contact_compliance": compliance, "coverage": coverage, "links": links}


def _part(components: dict[str, float | None], weights: Mapping[str, float], scale: float = 100.0) -> Figures:
    value, used, missing = renormalised_mean(components, weights)
    return {
        "score": scale * value if value is not None else None,
        "components": components,
        "weights_used": used,
        "missing_components": missing,
    }


def _cadre_score(process: Figures, result: Figures, cfg: Settings) -> float | None:
    value, _, _ = renormalised_mean({"process": process["score"], "result": result["score"]}, cfg.cadre_weights)
    return value


def _quantity(dispatched: int, handled: int, visits: int, households: int, quota: int | None, contacts: int) -> Figures:
    return {
        "dispatched": dispatched,
        "handled": handled,
        "visits": visits,
        "households": households,
        "visit_quota": quota,
        "contacts": contacts,
    }


def _handler_rows(
    subjects: list[Subject],
    priors: Mapping[str, BetaPrior | None],
    org: OrgData,
    extras: Extras,
    scheme: SchemeDocument,
    period: Period,
    city: CityBaseline,
    cfg: Settings,
) -> list[ResultRow]:
    household, contacts = _visit_counts(extras)
    grid_workers = org.grid_workers()
    quota_of_period = int(getattr(scheme.cadre.grid_worker_visit_quota, period.kind))
    drafts = []
    for subject in subjects:
        staff_id = int(subject.code)
        rates = _rates(subject, priors, city, cfg)
        three = _three_rate(rates, cfg)
        visits, homes = household.get(staff_id, (0, 0))
        is_grid_worker = staff_id in grid_workers
        quota = quota_of_period if is_grid_worker else None
        process = _part(
            {
                "visit_compliance": min(1.0, visits / quota) if quota else None,
                "response_rate": rates["response_rate"][SHRUNK],
                "on_time_resolution_rate": rates["on_time_resolution_rate"][SHRUNK],
            },
            cfg.process_weights,
        )
        result = _part({"three_rate_score": three["value"]}, {"three_rate_score": 1.0}, scale=1.0)
        roles = sorted({role for *_, role in org.members.get(staff_id, [])})
        drafts.append(
            (
                subject,
                _cadre_score(process, result, cfg),
                {
                    "kind": "handler",
                    "staff_id": staff_id,
                    "name": subject.name,
                    "team_role": "grid_worker" if is_grid_worker else (roles[0] if roles else None),
                    "scope_code": subject.parent_code or "",
                    "process": process,
                    "result": result,
                    "quantity": _quantity(
                        subject.totals[12],
                        subject.totals[2] + subject.totals[9],
                        visits,
                        homes,
                        quota,
                        sum(contacts.get(staff_id, {}).values()),
                    ),
                    "quality": rates,
                    "contacts": None,
                },
            )
        )
    return _cadre_rows(drafts, "handler", scheme)


def _leader_rows(
    org: OrgData,
    extras: Extras,
    scheme: SchemeDocument,
    period: Period,
    scores: Mapping[tuple[str, str], float | None],
    cfg: Settings,
) -> list[ResultRow]:
    links = leader_links(extras, org, period)
    _, contacts = _visit_counts(extras)
    drafts = []
    for leader_id in sorted(links):
        info = extras.staff.get(leader_id)
        if info is None:
            continue
        contact = _contacts(links[leader_id])
        linked = [scores.get((link["unit_kind"], link["unit_code"])) for link in links[leader_id]]
        present = [score for score in linked if score is not None]
        process = _part({"contact_compliance": contact["contact_compliance"]}, {"contact_compliance": 1.0})
        result = _part(
            {"linked_units_three_rate_score": sum(present) / len(present) if present else None},
            {"linked_units_three_rate_score": 1.0},
            scale=1.0,
        )
        subject = Subject("leader", str(leader_id), info.name, info.scope_code, info.path, {}, total({}))
        drafts.append(
            (
                subject,
                _cadre_score(process, result, cfg),
                {
                    "kind": "leader",
                    "staff_id": leader_id,
                    "name": info.name,
                    "team_role": None,
                    "scope_code": info.scope_code,
                    "process": process,
                    "result": result,
                    "quantity": _quantity(0, 0, 0, 0, None, sum(contacts.get(leader_id, {}).values())),
                    "quality": None,
                    "contacts": contact,
                },
            )
        )
    return _cadre_rows(drafts, "leader", scheme)


def _cadre_rows(
    drafts: list[tuple[Subject, float | None, Figures]], level: str, scheme: SchemeDocument
) -> list[ResultRow]:
    ranks = competition_ranks([(subject.code, score) for subject, score, _ in drafts])
    rows = []
    for subject, score, parts in drafts:
        figures = {
            **parts,
            "cadre_score": score,
            "rank": ranks.get(subject.code),
            "ranked": len(ranks),
            "grade": scheme.grade(score),
        }
        rows.append(
            ResultRow(
                level=level,
                subject_code=subject.code,
                name=subject.name,
                parent_code=subject.parent_code,
                path=subject.path,
                rank=ranks.get(subject.code),
                three_rate_score=parts["result"]["score"] if level == "handler" else None,
                satisfaction_index=None,
                cadre_score=score,
                figures=figures,
            )
        )
    return rows


# ---- the whole computation ---------------------------------------------------------------------


def _handler_subjects(tally: Tally, org: OrgData, extras: Extras) -> list[Subject]:
    """Staff with counts, and every grid worker (their visits count even with no cases)."""
    ids = sorted((set(tally.handler) | org.grid_workers()) & set(extras.staff))
    subjects = []
    for staff_id in ids:
        info = extras.staff[staff_id]
        counts = tally.handler.get(staff_id, {})
        subjects.append(
            Subject(
                level="handler",
                code=str(staff_id),
                name=info.name,
                parent_code=info.scope_code,
                path=info.path,
                counts=counts,
                totals=total(counts),
            )
        )
    return subjects


def compute(tally: Tally, org: OrgData, extras: Extras, scheme: SchemeDocument, period: Period) -> Computation:
    """Every result of a run: org units at every level, departments, handlers, leaders; and the summary."""
    cfg = Settings.of(scheme)
    units = _unit_subjects(tally, org)
    departments = _department_subjects(tally, org)
    _apply_appeals(extras, org, units, departments)
    city_counts: CategoryCounts = {}
    for root in org.roots:
        merge_into(city_counts, units[root].counts)
    city = _city_baseline(city_counts, cfg.points)

    levels: list[tuple[str, list[Subject]]] = [
        (level, sorted((s for s in units.values() if s.level == level), key=lambda s: s.code)) for level in UNIT_LEVELS
    ]
    levels.append(("department", list(departments.values())))
    handlers = _handler_subjects(tally, org, extras)
    priors: dict[str, dict[str, BetaPrior | None]] = {}
    rows: list[ResultRow] = []
    for level, subjects in levels:
        _prepare(subjects, cfg)
        priors[level] = _fit_level_priors(subjects, scheme)
        rows.extend(_unit_rows(subjects, priors[level], city, extras, cfg, scheme))
    _prepare(handlers, cfg)
    priors["handler"] = _fit_level_priors(handlers, scheme)
    rows.extend(_handler_rows(handlers, priors["handler"], org, extras, scheme, period, city, cfg))
    scores = {
        ("department" if row.level == "department" else "org_unit", row.subject_code): row.three_rate_score
        for row in rows
        if row.level in UNIT_LEVELS or row.level == "department"
    }
    rows.extend(_leader_rows(org, extras, scheme, period, scores, cfg))
    summary = {
        "priors": {
            level: {rate: _prior_dict(p) for rate, p in level_priors.items()} for level, level_priors in priors.items()
        },
        "baselines": city.baselines,
        "city_means": city.means,
    }
    return Computation(rows, summary)


def staff_ids_needed(tally: Tally, org: OrgData, extras: Extras) -> set[int]:
    """Whose names and scopes the computation needs: handlers counted, grid workers, leaders."""
    return set(tally.handler) | org.grid_workers() | {link.leader_id for link in extras.links}
