"""Checking a request's category-specific answers against the category's attribute definitions."""

from datetime import datetime
from typing import Any

from shared.errors import field_error


def check_attributes(definitions: list[dict[str, Any]], given: dict[str, Any]) -> list[dict[str, Any]]:
    """Field errors (`attributes.<code>`) for unknown, missing or ill-typed answers; empty when all is well."""
    errors: list[dict[str, Any]] = []
    by_code = {d["code"]: d for d in definitions}
    for code in given:
        if code not in by_code:
            errors.append(field_error(["attributes", code], f"unknown attribute for this category: {code}"))
    for code, definition in by_code.items():
        if code not in given or given[code] in ("", []):
            if definition.get("required"):
                errors.append(field_error(["attributes", code], "required"))
            continue
        problem = _type_problem(definition, given[code])
        if problem:
            errors.append(field_error(["attributes", code], problem))
    return errors


def _type_problem(definition: dict[str, Any], value: Any) -> str | None:
    datatype = definition["datatype"]
    keys = {v["key"] for v in definition.get("values", [])}
    if datatype in ("string", "text"):
        return None if isinstance(value, str) and len(value) <= 2000 else "must be text of at most 2000 characters"
    if datatype == "number":
        if isinstance(value, bool):
            return "must be a number"
        if isinstance(value, int | float):
            return None
        try:
            float(str(value))
        except ValueError:
            return "must be a number"
        return None
    if datatype == "datetime":
        try:
            datetime.fromisoformat(str(value))
        except ValueError:
            return "must be an ISO 8601 date-time"
        return None
    if datatype == "singlevaluelist":
        return None if isinstance(value, str) and value in keys else f"must be one of {sorted(keys)}"
    if datatype == "multivaluelist":
        values = value if isinstance(value, list) else [value]
        ok = all(isinstance(v, str) and v in keys for v in values)
        return None if ok else f"each value must be one of {sorted(keys)}"
    return "unsupported attribute type"
