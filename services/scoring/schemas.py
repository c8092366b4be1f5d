"""Pydantic shapes of the scoring API: schemes, runs, unit and cadre scores, rankings, appeals, disclosure.

The figures of a result are stored as the JSON of these models, so what the API returns is what was
stored, number for number.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.scoring.periods import PERIOD_RE
from services.scoring.scheme import SchemeDocument
from shared.schemas import CITY_TIME_NOTE, CityDateTime, LocalDateTime, StrictInput

PeriodText = Annotated[
    str, Field(pattern=PERIOD_RE, max_length=7, description="`2026-03`, `2026-Q1` or `2026`", examples=["2026-03"])
]
UnitLevel = Literal["city", "district", "street", "community", "grid"]
ScoreLevel = Literal["city", "district", "street", "community", "grid", "department"]
RATE_NAMES = (
    "response_rate",
    "resolution_rate",
    "satisfaction_rate",
    "on_time_resolution_rate",
    "reopen_rate",
    "return_rate",
    "no_evaluation_share",
)
RateName = Literal[
    "response_rate",
    "resolution_rate",
    "satisfaction_rate",
    "on_time_resolution_rate",
    "reopen_rate",
    "return_rate",
    "no_evaluation_share",
]

# ---- schemes -----------------------------------------------------------------------------------


class SchemeCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "2027 年度考核方案",
                    "notes": "满意率权重提高到 0.5",
                    "document": {"three_rate_weights": {"response": 0.2, "resolution": 0.3, "satisfaction": 0.5}},
                }
            ]
        },
    )

    name: Annotated[str, Field(min_length=1, max_length=100)]
    notes: Annotated[str | None, Field(max_length=2000)] = None
    document: SchemeDocument = Field(description="Weights, points, thresholds, quotas; omitted parts take defaults")


class SchemeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    name: str
    notes: str | None
    document: SchemeDocument
    current: bool = Field(description="The newest version: runs use it unless they name another")
    created_by: str
    created_at: LocalDateTime


# ---- runs --------------------------------------------------------------------------------------


class RunCreate(StrictInput):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"period": "2026-10"}, {"period": "2026", "background": True}]},
    )

    period: PeriodText
    as_of: CityDateTime | None = Field(
        None,
        description=f"Count only what had happened by this time (default: now). Same as_of, same result. {CITY_TIME_NOTE}",
    )
    scheme_version: Annotated[int | None, Field(ge=1, le=1_000_000)] = Field(
        None, description="Scheme version (default: the current one)"
    )
    background: bool | None = Field(
        None,
        description="Compute on the long job queue (true), in this request (false), or by size (default: "
        "periods with more requests than the inline limit go to the queue)",
    )


class RunOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 12,
                    "period": "2026-10",
                    "period_start": "2026-10-01T00:00:00+08:00",
                    "period_end": "2026-11-01T00:00:00+08:00",
                    "as_of": "2026-11-26T17:00:00+08:00",
                    "scheme_version": 1,
                    "status": "running",
                    "mode": "queued",
                    "phase": "aggregating",
                    "progress": 0.4,
                    "chunks_done": 1,
                    "chunks_total": 1,
                    "cohort_size": 1000000,
                    "results": None,
                    "error": None,
                    "created_at": "2026-11-26T17:00:00+08:00",
                    "started_at": "2026-11-26T17:00:01+08:00",
                    "finished_at": None,
                    "appeals_as_of": None,
                    "published_at": None,
                    "published_by": None,
                    "corrects_run_id": None,
                    "superseded_by_id": None,
                    "changes": None,
                }
            ]
        },
    )

    id: int
    period: str
    period_start: LocalDateTime
    period_end: LocalDateTime
    as_of: LocalDateTime
    scheme_version: int
    status: Literal["queued", "running", "done", "failed"]
    mode: Literal["inline", "queued"]
    phase: str = Field(description="queued, loading, aggregating, computing, storing, done, failed")
    progress: float = Field(ge=0, le=1)
    chunks_done: int = Field(description="Months of the period aggregated so far")
    chunks_total: int
    cohort_size: int | None = Field(description="Requests received in the period by as_of (duplicates excluded)")
    results: int | None = Field(description="Results stored (units, departments, handlers, leaders)")
    error: str | None
    created_at: LocalDateTime
    started_at: LocalDateTime | None
    finished_at: LocalDateTime | None
    appeals_as_of: LocalDateTime | None = Field(
        None, description="Appeal decisions counted up to this time (null: up to as_of); later for a corrected run"
    )
    published_at: LocalDateTime | None = Field(
        None, description="Published (公示): shown on /v1/public/... (null: internal)"
    )
    published_by: str | None = Field(None, description="`staff:<id>`, or `system:...` for a republished correction")
    corrects_run_id: int | None = Field(None, description="The published run this one corrects (appeals decided since)")
    superseded_by_id: int | None = Field(None, description="The corrected run that replaced this one publicly")
    changes: list["RunChange"] | None = Field(None, description="A correction: every figure it changed")


class Difference(BaseModel):
    """One stored value that the recomputation does not give."""

    level: str = Field(description="The subject's level (`run` for the run's summary)")
    code: str
    figure: str | None = Field(
        None, description="Which value: a column (`rank`, `satisfaction_index`) or a path in the figures"
    )
    old: Any = Field(None, description="The stored value")
    new: Any = Field(None, description="The recomputed value")
    detail: str


class MovedFact(BaseModel):
    """One fact of one request that is not what the run counted: the request moved since the run."""

    request_id: int
    tracking_no: str | None = None
    routing_no: int = Field(description="The assignment the fact belongs to (1 for the request's own facts)")
    fact: str = Field(
        description="`category`, a holder (`response_unit`, `final_unit`, `assignment_unit` and their "
        "`*_handler`), `in_cohort`, or a count the request gave (`evaluated`, `dissatisfied`, ...)"
    )
    old: Any = Field(None, description="As the run counted it")
    new: Any = Field(None, description="As the recomputation counts it")


class VerifyOut(BaseModel):
    run_id: int
    matches: bool = Field(description="Recomputing from the raw data at the run's as_of gave every stored value")
    compared: int
    differences: list[Difference] = Field(
        description="The first 50 differences, subjects from the city down, then the run's summary"
    )
    differences_total: int = Field(0, description="How many differences there are in all")
    requests_moved: list[MovedFact] = Field(
        default_factory=list, description="The first 50 facts of requests that moved (when the run kept its facts)"
    )
    facts_kept: bool = Field(description="Whether the run kept which request gave which fact, to name those that moved")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "run_id": 12,
                    "matches": False,
                    "compared": 3481,
                    "differences": [
                        {
                            "level": "grid",
                            "code": "330203001001001",
                            "figure": "counts.satisfied",
                            "old": 9,
                            "new": 8,
                            "detail": "counts.satisfied: 9 ≠ 8",
                        }
                    ],
                    "differences_total": 1,
                    "requests_moved": [
                        {
                            "request_id": 4711,
                            "tracking_no": "MQ20261015000123",
                            "routing_no": 1,
                            "fact": "satisfied",
                            "old": 1,
                            "new": 0,
                        }
                    ],
                    "facts_kept": True,
                }
            ]
        }
    )


# ---- unit scores -------------------------------------------------------------------------------


class IntervalOut(BaseModel):
    low: float
    high: float


class RateOut(BaseModel):
    """A rate with what it rests on: raw value, count, Wilson interval, shrunk value, case-mix adjusted value."""

    value: float | None = Field(description="Raw rate: successes / n (null when n = 0)")
    successes: float = Field(description="Numerator (satisfaction: Σ points, so fractional)")
    n: int = Field(description="Denominator")
    interval: IntervalOut | None = Field(description="Wilson score interval at the scheme's confidence")
    shrunk: float | None = Field(description="Empirical-Bayes posterior mean; rankings use it (null when n = 0)")
    expected: float | None = Field(description="What the city's per-category rates predict for this mix of cases")
    adjusted: float | None = Field(description="Case-mix adjusted: value − expected + city mean")
    reason: str | None = Field(None, description="Why there is no value (n = 0: no data, so no raw or shrunk value)")


class Rates(BaseModel):
    response_rate: RateOut = Field(
        description="响应率: accepted by the response deadline / deadline passed or accepted"
    )
    resolution_rate: RateOut = Field(description="解决率: final evaluation says resolved / requests evaluated")
    satisfaction_rate: RateOut = Field(description="满意率: Σ points / requests evaluated")
    on_time_resolution_rate: RateOut = Field(description="按期办结率: resolved by the deadline / resolved or overdue")
    reopen_rate: RateOut = Field(description="重办率: first evaluation negative (reopened) / first evaluations")
    return_rate: RateOut = Field(description="退单率: dispatches returned / dispatches")
    no_evaluation_share: RateOut = Field(description="未评价占比: closed without evaluation / evaluated or so closed")


class Counts(BaseModel):
    """The integer counts every rate of a subject is computed from."""

    response_due: int = Field(description="Accepted, or response deadline passed")
    responded_on_time: int
    evaluated: int = Field(description="Requests whose latest evaluation counts (not closed as no evaluation)")
    resolved: int = Field(description="… whose latest evaluation says resolved")
    satisfied: int
    basically_satisfied: int
    dissatisfied: int
    first_evaluations: int
    reopened: int
    no_evaluation: int
    resolution_due: int = Field(description="Resolved, or resolution deadline passed")
    resolved_on_time: int
    dispatched: int
    returned: int


class ThreeRateScoreOut(BaseModel):
    value: float | None = Field(description="100 × weighted shrunk rates: the score rankings use")
    raw: float | None = Field(description="100 × weighted raw rates")
    weights: dict[str, float]
    weights_used: dict[str, float] = Field(description="Weights renormalised over the rates present (for value)")
    missing_components: list[str] = Field(description="Rates with no value (for value); their weight is shared out")
    raw_missing_components: list[str]
    missing_reasons: dict[str, str] = Field(default_factory=dict, description="Why each missing rate has no value")


class SatisfactionIndexComponents(BaseModel):
    residents: float | None = Field(description="社区群众: shrunk satisfaction rate × 100")
    resident_organisations: float | None = Field(description="驻区单位: mean of the period's assessments")
    public_opinion: float | None = Field(description="社会舆论: mean of the period's assessments")


class SatisfactionIndexOut(BaseModel):
    value: float | None = Field(description="满意指数, 0–100")
    components: SatisfactionIndexComponents
    weights: dict[str, float]
    weights_used: dict[str, float]
    missing_components: list[str] = Field(description="Components with no data: the weights were renormalised")
    missing_reasons: dict[str, str] = Field(default_factory=dict, description="Why each missing component has none")
    assessments: dict[str, int] = Field(description="Assessments averaged, per source")


class RunRef(BaseModel):
    """Which stored run a result comes from: every result names its scheme version and as_of."""

    run_id: int
    period: str
    as_of: LocalDateTime
    scheme_version: int


class UnitFigures(BaseModel):
    level: str
    code: str
    name: str
    parent_code: str | None
    rank: int | None = Field(description="Rank among the level's units with data, on the shrunk three-rate score")
    ranked: int = Field(description="Units of the level ranked")
    unranked_reason: str | None = Field(None, description="Why the unit has no rank (no data: nothing to rank on)")
    grade: str | None
    three_rate_score: ThreeRateScoreOut
    satisfaction_index: SatisfactionIndexOut
    rates: Rates
    counts: Counts


class UnitScore(UnitFigures, RunRef):
    """A unit's (or a department's) scores in one run."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "run_id": 12,
                    "period": "2026-10",
                    "as_of": "2026-11-26T17:00:00+08:00",
                    "scheme_version": 1,
                    "level": "street",
                    "code": "330203001",
                    "name": "南门街道",
                    "parent_code": "330203",
                    "rank": 3,
                    "ranked": 23,
                    "grade": "良好",
                    "three_rate_score": {
                        "value": 86.1,
                        "raw": 86.4,
                        "weights": {"response": 0.2, "resolution": 0.4, "satisfaction": 0.4},
                        "weights_used": {"response": 0.2, "resolution": 0.4, "satisfaction": 0.4},
                        "missing_components": [],
                        "raw_missing_components": [],
                    },
                }
            ]
        }
    )


class SourceOut(BaseModel):
    kind: Literal["child_unit", "grid_team", "department", "dispatch_centre"]
    code: str
    name: str
    counts: Counts


class PriorOut(BaseModel):
    mean: float
    strength: float = Field(description="α + β")
    method: Literal["moments", "fallback"]
    units: int = Field(description="Units of the level with data")


class ShrinkageOut(BaseModel):
    """How much of a shrunk rate is the unit's own data and how much the level's prior."""

    n: int
    raw: float | None
    shrunk: float | None
    prior_mean: float | None
    prior_strength: float | None = Field(description="α + β of the level's prior")
    data_weight: float | None = Field(description="n / (n + α + β): the share of the shrunk value that is data")
    prior_weight: float | None = Field(description="(α + β) / (n + α + β): the share that is the prior mean")
    reason: str | None = Field(None, description="Why there is no shrunk value")


class CategoryMix(BaseModel):
    category: str
    n: dict[str, int] = Field(description="Denominator per rate for this category")
    baseline: dict[str, float | None] = Field(description="City-wide rate per rate for this category")


class CaseMixOut(BaseModel):
    city_mean: dict[str, float | None]
    categories: list[CategoryMix]


class AppealsEffect(BaseModel):
    approved: int = Field(description="Requests removed from this subject's rates by approved appeals (申诉核减)")
    request_ids: list[int]


class Breakdown(BaseModel):
    """Everything a number rests on: where the counts come from, the priors, the case mix, appeals, the scheme."""

    sources: list[SourceOut] = Field(
        description="Counts = Σ sources: child units, plus the units attached here (its grid team, the departments "
        "scoped to it, its dispatch centre)"
    )
    priors: dict[str, PriorOut | None] = Field(description="The level's prior per rate (fitted over the level)")
    shrinkage: dict[str, ShrinkageOut] = Field(
        default_factory=dict, description="Per rate: shrunk = data_weight × raw + prior_weight × prior mean"
    )
    case_mix: CaseMixOut
    appeals: AppealsEffect
    scheme: SchemeDocument = Field(description="The scheme the run used (its version is `scheme_version`)")
    formulas: dict[str, str]


class UnitScoreDetail(UnitScore):
    breakdown: Breakdown


# ---- cadres ------------------------------------------------------------------------------------


class PartScore(BaseModel):
    score: float | None = Field(description="0–100")
    components: dict[str, float | None]
    weights_used: dict[str, float]
    missing_components: list[str]


class LinkOut(BaseModel):
    link_id: int
    post: str
    unit_kind: Literal["org_unit", "department"]
    unit_code: str
    unit_name: str
    quota: int
    contacts: int
    met: bool | None = Field(description="contacts ≥ quota (null when the quota is 0)")
    compliance: float | None = Field(description="min(1, contacts / quota)")


class ContactsOut(BaseModel):
    contact_compliance: float | None = Field(description="Mean over links with a quota of min(1, contacts/quota)")
    coverage: float | None = Field(description="Share of links with a quota that met it")
    links: list[LinkOut]


class QuantityOut(BaseModel):
    dispatched: int = Field(description="Dispatches to this handler")
    handled: int = Field(description="Requests whose latest evaluation (or no-evaluation closure) is theirs")
    visits: int = Field(description="Household visits logged in the period")
    households: int
    visit_quota: int | None
    contacts: int = Field(description="Leader contacts logged in the period")


class CadreFigures(BaseModel):
    kind: Literal["handler", "leader"]
    staff_id: int
    name: str
    team_role: str | None
    scope_code: str
    cadre_score: float | None
    rank: int | None
    ranked: int
    unranked_reason: str | None = Field(None, description="Why the cadre has no rank (nothing to rank on)")
    grade: str | None
    process: PartScore
    result: PartScore
    quantity: QuantityOut
    quality: Rates | None = Field(description="Handlers: their rates (the three rates and the others)")
    contacts: ContactsOut | None = Field(description="Leaders: contacts with their linked units against quotas")


class CadreScore(CadreFigures, RunRef):
    """A cadre's evaluation (群众工作绩效): process and result, quantity and quality shown apart."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "run_id": 12,
                    "period": "2026-10",
                    "as_of": "2026-11-26T17:00:00+08:00",
                    "scheme_version": 1,
                    "kind": "handler",
                    "staff_id": 57,
                    "name": "南门街道网格员",
                    "team_role": "grid_worker",
                    "scope_code": "330203001001001",
                    "cadre_score": 84.2,
                    "rank": 10,
                    "ranked": 2170,
                    "grade": "良好",
                }
            ]
        }
    )


# ---- rankings ----------------------------------------------------------------------------------

RankingMetric = Literal[
    "three_rate_score",
    "satisfaction_index",
    "cadre_score",
    "response_rate",
    "resolution_rate",
    "satisfaction_rate",
    "on_time_resolution_rate",
    "reopen_rate",
    "return_rate",
    "no_evaluation_share",
]
RankingLevel = Literal["district", "street", "community", "grid", "department", "handler", "leader"]


class RankingItem(BaseModel):
    rank: int
    level: str
    code: str
    name: str
    parent_code: str | None
    value: float
    n: int | None = Field(description="Denominator of the rate ranked on (rates only)")


class UnrankedItem(BaseModel):
    level: str
    code: str
    name: str
    parent_code: str | None
    reason: str = Field(description="Why it has no rank: no data for the metric (n = 0)")


class RankingOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "run_id": 12,
                    "period": "2026-10",
                    "as_of": "2026-11-26T17:00:00+08:00",
                    "scheme_version": 1,
                    "level": "street",
                    "metric": "three_rate_score",
                    "order": "desc",
                    "ranked": 23,
                    "items": [
                        {
                            "rank": 1,
                            "level": "street",
                            "code": "330203003",
                            "name": "鼓楼街道",
                            "parent_code": "330203",
                            "value": 91.3,
                            "n": None,
                        }
                    ],
                }
            ]
        }
    )

    run_id: int
    period: str
    as_of: LocalDateTime
    scheme_version: int
    level: str
    metric: str
    order: Literal["desc", "asc"] = Field(description="desc: higher is better; asc for reopen, return, no-evaluation")
    ranked: int = Field(description="Subjects ranked city-wide (you see those in your scope)")
    items: list[RankingItem]
    unranked_total: int = Field(0, description="Subjects in your scope with no data for the metric: not ranked")
    unranked: list[UnrankedItem] = Field(
        default_factory=list, description="Those subjects (up to the limit), listed apart from the ranking"
    )


# ---- appeals -----------------------------------------------------------------------------------


class HandlingUnitRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["grid_team", "department"]
    code: Annotated[
        str,
        Field(
            min_length=1,
            max_length=32,
            pattern=r"^[0-9A-Za-z_-]+$",
            description="The grid's code (its team) or the department's code",
            examples=["330203001001001"],
        ),
    ]


class AppealCreate(StrictInput):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "request_id": 1024,
                    "unit": {"kind": "grid_team", "code": "330203001001001"},
                    "reason": "not_responsible",
                    "explanation": "该诉求属于物业合同纠纷，非网格职责范围。",
                }
            ]
        },
    )

    request_id: Annotated[int, Field(ge=1, le=2**63 - 1)]
    unit: HandlingUnitRef
    reason: Literal["unreasonable_demand", "not_responsible"] = Field(
        description="unreasonable_demand (诉求不合理) or not_responsible (非本单位职责)"
    )
    explanation: Annotated[str, Field(min_length=1, max_length=2000)]


class AppealDecision(StrictInput):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"decision": "approved", "note": "经核实属实，予以核减。", "version": 1}]},
    )

    decision: Literal["approved", "rejected"]
    note: Annotated[str | None, Field(max_length=2000)] = None
    version: Annotated[int | None, Field(ge=1, le=2**31 - 1)] = Field(
        None, description="The version you read (or send If-Match)"
    )


class HandlingUnitOut(BaseModel):
    kind: Literal["grid_team", "department"]
    code: str
    name: str


class AppealOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    request_id: int
    unit: HandlingUnitOut
    reason: str
    explanation: str
    status: Literal["pending", "approved", "rejected", "revoked"]
    filed_by_id: int
    filed_at: LocalDateTime
    decided_by_id: int | None
    decided_at: LocalDateTime | None
    decision_note: str | None
    revoked_by_id: int | None = None
    revoked_at: LocalDateTime | None = None
    revoke_reason: str | None = None
    version: int


# ---- public disclosure -------------------------------------------------------------------------


class PublicUnitScore(BaseModel):
    level: str
    code: str
    name: str
    parent_code: str | None
    evaluated: int = Field(description="Requests evaluated by the public")
    response_rate: float | None
    resolution_rate: float | None
    satisfaction_rate: float | None
    three_rate_score: float | None = Field(description="On shrunk rates (small numbers weigh less)")
    satisfaction_index: float | None
    rank: int | None
    ranked: int
    unranked_reason: str | None = Field(None, description="Why no rank: no data in the period (its figures are null)")


class PublicUnitsPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "period": "2026-10",
                    "run_id": 12,
                    "as_of": "2026-11-26T17:00:00+08:00",
                    "scheme_version": 1,
                    "published_at": "2026-12-01T09:00:00+08:00",
                    "corrects_run_id": None,
                    "changes": [],
                    "items": [
                        {
                            "level": "district",
                            "code": "330203",
                            "name": "海曙区",
                            "parent_code": "3302",
                            "evaluated": 15230,
                            "response_rate": 0.962,
                            "resolution_rate": 0.874,
                            "satisfaction_rate": 0.902,
                            "three_rate_score": 90.2,
                            "satisfaction_index": 89.5,
                            "rank": 2,
                            "ranked": 6,
                        }
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )

    period: str
    run_id: int = Field(description="The published run shown")
    as_of: LocalDateTime
    scheme_version: int
    published_at: LocalDateTime
    corrects_run_id: int | None = Field(
        description="A corrected run (appeals decided after publication): the run it replaced"
    )
    changes: list["PublicChange"] = Field(description="What the correction changed (units' public figures)")
    items: list[PublicUnitScore] = Field(description="Units of this page with a rank")
    unranked: list[PublicUnitScore] = Field(
        default_factory=list, description="Units of this page with no data: no figures, no rank, listed apart"
    )
    next_cursor: str | None = None


class PublicLeaderContacts(BaseModel):
    post: str = Field(description="职务")
    unit_kind: Literal["org_unit", "department"]
    unit_code: str
    unit_name: str
    links: int = Field(description="Leader links of this post to this unit")
    quota: int
    contacts: int
    met: int = Field(description="Links that met their quota")


class PublicLeaderContactsPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "period": "2026-10",
                    "run_id": 12,
                    "as_of": "2026-11-26T17:00:00+08:00",
                    "scheme_version": 1,
                    "published_at": "2026-12-01T09:00:00+08:00",
                    "corrects_run_id": None,
                    "changes": [],
                    "items": [
                        {
                            "post": "区委书记",
                            "unit_kind": "org_unit",
                            "unit_code": "330203001",
                            "unit_name": "南门街道",
                            "links": 1,
                            "quota": 2,
                            "contacts": 3,
                            "met": 1,
                        }
                    ],
                }
            ]
        }
    )

    period: str
    run_id: int = Field(description="The published run shown")
    as_of: LocalDateTime
    scheme_version: int
    published_at: LocalDateTime
    corrects_run_id: int | None = Field(
        description="A corrected run (appeals decided after publication): the run it replaced"
    )
    changes: list["PublicChange"] = Field(description="What the correction changed (units' public figures)")
    items: list[PublicLeaderContacts]


# ---- publication and corrections ---------------------------------------------------------------

# The figures a public page shows, and so the changes of a correction it lists.
PUBLIC_FIGURES = (
    "response_rate",
    "resolution_rate",
    "satisfaction_rate",
    "three_rate_score",
    "satisfaction_index",
    "rank",
    "counts.evaluated",
)


class PublicChange(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "level": "grid",
                    "code": "330203001001001",
                    "name": "一网格",
                    "figure": "response_rate",
                    "old": 0.5,
                    "new": 0.667,
                }
            ]
        }
    )

    level: str
    code: str
    name: str
    figure: str = Field(description="A rate's value, `three_rate_score`, `satisfaction_index`, `rank`, `counts.<name>`")
    old: float | int | None
    new: float | int | None


class RunChange(PublicChange):
    """One figure a corrected run changed (every level, handlers and leaders included)."""


class AppealRevoke(StrictInput):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "复核发现该诉求确属网格职责，撤销核减。", "version": 2}]},
    )

    reason: Annotated[
        str, Field(min_length=1, max_length=2000, description="Why the approval is revoked (kept in the trail)")
    ]
    version: Annotated[int | None, Field(ge=1, le=2**31 - 1)] = Field(
        None, description="The version you read (or send If-Match)"
    )


RunOut.model_rebuild()
PublicUnitsPage.model_rebuild()
PublicLeaderContactsPage.model_rebuild()
