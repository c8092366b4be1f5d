"""The OpenAPI document as the wire has it: every 4xx answer is problem+json."""

import json
from typing import Any

from fastapi import FastAPI

from shared.web.errors import PROBLEM_JSON, Problem


def document_errors_as_problems(app: FastAPI) -> None:
    """Describe every 4xx answer as what it is on the wire: `application/problem+json` with `Problem`.

    FastAPI documents a response model under `application/json` and adds its own 422 schema
    (`HTTPValidationError`); our handlers answer all of those as problem+json. Paths that register
    their own error format (Open311's error arrays) keep what their routes declare.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault("Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}"))
        problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
        for path, operations in schema.get("paths", {}).items():
            if any(path.startswith(prefix) for prefix, _ in getattr(app.state, "error_renderers", [])):
                continue
            for operation in operations.values():
                for code, response in operation.get("responses", {}).items():
                    if code.startswith("4"):
                        response["content"] = {PROBLEM_JSON: problem}
        for unused in ("HTTPValidationError", "ValidationError"):
            if unused in components and unused not in json.dumps(schema["paths"]):
                del components[unused]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
