"""Locating a request from its address text when it has no coordinates or unit code."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NamedUnit:
    id: int
    name: str
    path: str
    level: str


def match_address(address: str, units: list[NamedUnit]) -> NamedUnit | None:
    """The deepest unit whose full name appears in the address (longest name wins among equals).

    `海曙区南门街道柳汀社区` finds the community; a bare `南门` finds nothing (names must match whole).
    """
    found = [u for u in units if len(u.name) >= 2 and u.name in address]
    if not found:
        return None
    return max(found, key=lambda u: (u.path.count("/"), len(u.name)))
