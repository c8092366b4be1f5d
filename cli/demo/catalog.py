"""The demo city's catalog, departments, responsibility matrix and SLA policies (plain data).

Categories follow DOMAIN.md: the key-group matters the source texts single out (land
acquisition and demolition, pollution, shareholding reform, household registration) and the
livelihood matters (employment, social security, housing, medical care, elderly care, education),
plus utilities and city management, and `unknown` for hotline calls still to be classified.
"""

from typing import Any

# (code, name, name_en, default_priority, key_group, attributes)
CategoryRow = tuple[str, str, str, str, bool, list[dict[str, Any]]]


def _choice(code: str, description: str, values: dict[str, str], *, required: bool = False) -> dict[str, Any]:
    return {
        "code": code,
        "datatype": "singlevaluelist",
        "description": description,
        "required": required,
        "variable": True,
        "order": 1,
        "datatype_description": None,
        "values": [{"key": k, "name": v} for k, v in values.items()],
    }


def _text(code: str, description: str, order: int = 2) -> dict[str, Any]:
    return {
        "code": code,
        "datatype": "string",
        "description": description,
        "required": False,
        "variable": True,
        "order": order,
        "datatype_description": None,
        "values": [],
    }


CATEGORIES: list[CategoryRow] = [
    ("env", "生态环境", "Environment", "normal", False, []),
    (
        "env.pollution",
        "环境污染",
        "Environmental pollution",
        "high",
        True,
        [
            _choice(
                "pollution_type",
                "污染类型",
                {"air": "大气", "water": "水体", "soil": "土壤", "odour": "异味"},
                required=True,
            )
        ],
    ),
    (
        "env.noise",
        "噪声扰民",
        "Noise nuisance",
        "normal",
        False,
        [
            _choice(
                "noise_source",
                "噪声来源",
                {"construction": "建筑施工", "shop": "商铺经营", "neighbour": "邻里", "traffic": "交通"},
            ),
            _text("time_of_day", "发生时段"),
        ],
    ),
    ("env.sanitation", "环境卫生", "Sanitation", "normal", False, []),
    ("land", "征地拆迁", "Land acquisition and demolition", "high", True, []),
    ("land.acquisition", "征地补偿", "Land acquisition compensation", "high", True, []),
    ("housing", "住房保障", "Housing", "normal", False, []),
    ("housing.demolition", "房屋拆迁", "Housing demolition", "high", True, [_text("project_name", "拆迁项目名称", 1)]),
    ("housing.property", "物业管理", "Property management", "normal", False, []),
    ("enterprise", "企业改制", "Enterprise reform", "normal", False, []),
    ("enterprise.shareholding", "股份制改造", "Shareholding reform", "high", True, []),
    ("hukou", "户籍管理", "Household registration", "normal", False, []),
    ("hukou.conversion", "非转农户籍", "Urban-to-rural registration conversion", "high", True, []),
    ("employment", "就业创业", "Employment", "normal", False, []),
    ("social_security", "社会保障", "Social security", "normal", False, []),
    ("medical", "医疗卫生", "Medical care", "normal", False, []),
    ("elderly", "养老服务", "Elderly care", "normal", False, []),
    ("education", "教育", "Education", "normal", False, []),
    ("utilities", "水电气暖", "Utilities", "normal", False, []),
    (
        "utilities.water",
        "供水",
        "Water supply",
        "normal",
        False,
        [_choice("outage", "是否停水", {"yes": "停水", "no": "水质/水压"})],
    ),
    ("utilities.power", "供电", "Power supply", "normal", False, []),
    ("utilities.gas", "燃气", "Gas supply", "normal", False, []),
    ("utilities.heating", "供暖", "Heating", "normal", False, []),
    ("traffic", "交通出行", "Traffic and transport", "normal", False, []),
    ("city", "城市管理", "City management", "normal", False, []),
    ("city.illegal_construction", "违章搭建", "Illegal construction", "normal", False, []),
    ("city.street_light", "路灯照明", "Street lighting", "normal", False, []),
    ("unknown", "待分类", "To be classified", "normal", False, []),
]

# (code, name, name_en) — city-wide departments.
CITY_DEPARTMENTS: list[tuple[str, str, str]] = [
    ("HB", "市生态环境局", "Ecology and Environment Bureau"),
    ("ZJ", "市住房和城乡建设局", "Housing and Urban-Rural Development Bureau"),
    ("ZR", "市自然资源和规划局", "Natural Resources and Planning Bureau"),
    ("NN", "市农业农村局", "Agriculture and Rural Affairs Bureau"),
    ("GA", "市公安局", "Public Security Bureau"),
    ("RS", "市人力资源和社会保障局", "Human Resources and Social Security Bureau"),
    ("WJ", "市卫生健康委员会", "Health Commission"),
    ("MZ", "市民政局", "Civil Affairs Bureau"),
    ("JY", "市教育局", "Education Bureau"),
    ("JT", "市交通运输局", "Transport Bureau"),
    ("SW", "市水务集团", "Water Supply Group"),
    ("DL", "国网宁波供电公司", "State Grid Ningbo Power"),
    ("RQ", "宁波燃气集团", "Ningbo Gas Group"),
    ("CG", "市综合行政执法局", "Comprehensive Law Enforcement Bureau"),
]

# District-level law enforcement: each district handles city management itself.
DISTRICT_DEPARTMENT = ("CG", "综合行政执法局", "Law Enforcement Bureau")

# (category prefix, handler kind, lead department, co-departments), all at city level.
CITY_RULES: list[tuple[str, str, str | None, list[str]]] = [
    ("*", "grid_team", None, []),
    ("env", "department", "HB", []),
    ("env.noise", "grid_team", None, []),
    ("env.pollution", "joint", "HB", ["CG"]),
    ("land", "department", "ZR", []),
    ("housing", "department", "ZJ", []),
    ("housing.demolition", "joint", "ZJ", ["ZR"]),
    ("housing.property", "grid_team", None, []),
    ("enterprise", "department", "NN", []),
    ("hukou", "department", "GA", []),
    ("employment", "department", "RS", []),
    ("social_security", "department", "RS", []),
    ("medical", "department", "WJ", []),
    ("elderly", "department", "MZ", []),
    ("education", "department", "JY", []),
    ("traffic", "department", "JT", []),
    ("utilities.water", "department", "SW", []),
    ("utilities.power", "department", "DL", []),
    ("utilities.gas", "department", "RQ", []),
    ("utilities.heating", "department", "RQ", []),
    ("city", "department", "CG", []),
]

# (name, category prefix, priority, respond amount, unit, resolve amount, unit): Beijing practice.
SLA_POLICIES: list[tuple[str, str, str | None, float, str, float, str]] = [
    ("一般诉求 general", "*", None, 2, "working_hours", 7, "working_days"),
    ("紧急诉求 emergency", "*", "emergency", 0.5, "clock_hours", 2, "clock_hours"),
    ("水电气暖 utilities", "utilities", None, 2, "working_hours", 24, "clock_hours"),
    ("复杂诉求 complex: land", "land", None, 2, "working_hours", 15, "working_days"),
    ("复杂诉求 complex: demolition", "housing.demolition", None, 2, "working_hours", 15, "working_days"),
    ("复杂诉求 complex: reform", "enterprise", None, 2, "working_hours", 15, "working_days"),
]
