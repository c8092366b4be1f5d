"""Errors of the organisation domain."""

from shared.errors import Conflict, NotFound


class OrgUnitNotFound(NotFound):
    title = "Org unit not found"


class DepartmentNotFound(NotFound):
    title = "Department not found"


class TeamNotFound(NotFound):
    title = "Team not found"


class MemberNotFound(NotFound):
    title = "Member not found"


class CategoryNotFound(NotFound):
    title = "Category not found"


class DuplicateCode(Conflict):
    title = "Duplicate code"


class InUse(Conflict):
    title = "Still in use"
