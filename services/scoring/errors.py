"""What can go wrong in scoring, by name."""

from shared.errors import Conflict, NotFound


class SchemeNotFound(NotFound):
    title = "Scoring scheme not found"


class RunNotFound(NotFound):
    title = "Score run not found"


class ScoresNotFound(NotFound):
    title = "No scores"


class AppealNotFound(NotFound):
    title = "Appeal not found"


class AppealExists(Conflict):
    title = "Appeal already filed"


class AppealDecided(Conflict):
    title = "Appeal already decided"


class HandlingUnitNotFound(NotFound):
    title = "Handling unit not found"


class SchemeVersionTaken(Conflict):
    """Another scheme version was created at the same moment."""


class RunNotFinished(Conflict):
    """Only a finished run can be verified."""


class RunAlreadyPublished(Conflict):
    title = "Score run already published"


class AppealNotApproved(Conflict):
    title = "Appeal not approved"
