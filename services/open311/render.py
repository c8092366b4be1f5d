"""Serialising Open311 answers as JSON or as the specification's XML (xml.etree, text escaped)."""

import json
import re
import xml.etree.ElementTree as ET
from typing import Any, Literal

from pydantic import BaseModel

Format = Literal["json", "xml"]
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'

# Each answer's XML root element and, for lists, the element of one item.
DOCUMENTS: dict[str, tuple[str, str | None]] = {
    "discovery": ("discovery", None),
    "services": ("services", "service"),
    "service_definition": ("service_definition", None),
    "service_requests": ("service_requests", "request"),
    "updates": ("service_requests_updates", "request_update"),
    "errors": ("errors", "error"),
}
# A list field's XML element holds one child per item, named in the singular.
_ITEM_OF = {"endpoints": "endpoint", "formats": "format", "attributes": "attribute", "values": "value"}
# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _plain(data: BaseModel | list[BaseModel] | list[dict[str, Any]] | dict[str, Any]) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if isinstance(data, list):
        return [_plain(item) for item in data]
    return data


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item)
    elif isinstance(value, list):
        child_name = _ITEM_OF.get(element.tag, "item")
        for item in value:
            _fill(ET.SubElement(element, child_name), item)
    else:
        element.text = _text(value)


def to_xml(kind: str, data: Any) -> bytes:
    root_name, item_name = DOCUMENTS[kind]
    root = ET.Element(root_name)
    if item_name is None:
        _fill(root, data)
    else:
        for item in data:
            _fill(ET.SubElement(root, item_name), item)
    return (XML_DECLARATION + ET.tostring(root, encoding="unicode")).encode()


def render(
    kind: str, data: BaseModel | list[BaseModel] | list[dict[str, Any]] | dict[str, Any], fmt: Format
) -> tuple[bytes, str]:
    """The answer's body and media type; `kind` names the document (see DOCUMENTS)."""
    plain = _plain(data)
    if fmt == "xml":
        return to_xml(kind, plain), XML_TYPE
    return json.dumps(plain, ensure_ascii=False, separators=(",", ":")).encode(), JSON_TYPE
