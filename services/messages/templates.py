"""The texts citizens get, per event and medium, optionally per request channel (`<event>.<medium>.<channel>`).

Built-in Chinese defaults below; `messages_templates_dir` may hold files named `<event>.<medium>.txt` or
`<event>.<medium>.<channel>.txt` (UTF-8) that override them. A template names its values as `{name}`;
only the names its event offers are allowed (no attribute access, no format specs), and a file that
breaks the rule is refused when the templates load, naming the file and the value.
"""

import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from services.models.messages import MESSAGE_EVENTS, MESSAGE_MEDIA

# The values each event's template may use (`services/messages/events.py: variables`, and the sender's own).
ALLOWED: dict[str, frozenset[str]] = {
    "received": frozenset({"tracking_no", "channel"}),
    "replied": frozenset({"tracking_no", "channel", "reply", "unit_name"}),
    "resolved": frozenset(
        {"tracking_no", "channel", "reply", "outcome", "resolution_no", "feedback_link", "reply_code"}
    ),
    "reopened": frozenset({"tracking_no", "channel", "resolve_by"}),
}

BUILT_IN: dict[str, str] = {
    "received.sms": "您的诉求已受理，编号{tracking_no}。凭编号和手机尾号可查询办理进度。",
    "received.sms.hotline": "您通过热线反映的诉求已受理，编号{tracking_no}。凭编号和手机尾号可查询办理进度。",
    "replied.sms": "您的诉求（编号{tracking_no}）有新答复：{reply}",
    "resolved.sms": (
        "您的诉求（编号{tracking_no}）已办结（{outcome}）：{reply}。请评价：回复1满意，2基本满意，3不满意"
        "（如有多件待评价，请回复{reply_code}加数字，如{reply_code}1）；或点击{feedback_link}"
    ),
    "reopened.sms": "您的诉求（编号{tracking_no}）已重新交办，将于{resolve_by}前办结。",
    "received.webhook": "您的诉求已受理，编号{tracking_no}。",
    "replied.webhook": "您的诉求（编号{tracking_no}）有新答复：{reply}",
    "resolved.webhook": "您的诉求（编号{tracking_no}）已办结（{outcome}）：{reply}。请对办理结果进行评价。",
    "reopened.webhook": "您的诉求（编号{tracking_no}）已重新交办，将于{resolve_by}前办结。",
}


class TemplateError(ValueError):
    """A template that names a value its event does not offer, or that cannot be read."""


def check(name: str, text: str) -> None:
    """Refuse a template using anything but the plain `{value}` names its event offers."""
    event = name.split(".", 1)[0]
    allowed = ALLOWED.get(event)
    if allowed is None:
        raise TemplateError(f"{name}: unknown event {event!r} (one of {', '.join(MESSAGE_EVENTS)})")
    if not text.strip():
        raise TemplateError(f"{name}: the template is empty")
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(f"{name}: {exc}") from exc
    for _literal, field, spec, conversion in fields:
        if field is None:
            continue
        if field not in allowed or spec or conversion:
            raise TemplateError(f"{name}: {{{field}}} is not offered (use {', '.join(sorted(allowed))})")


@dataclass(frozen=True, slots=True)
class Templates:
    texts: dict[str, str]

    def pick(self, event: str, medium: str, channel: str) -> tuple[str, str]:
        """(name, text) of the most specific template: the channel's own, else the medium's."""
        for name in (f"{event}.{medium}.{channel}", f"{event}.{medium}"):
            if name in self.texts:
                return name, self.texts[name]
        raise TemplateError(f"no template for {event}.{medium}")

    def render(self, event: str, medium: str, channel: str, values: dict[str, Any]) -> str:
        _name, text = self.pick(event, medium, channel)
        return text.format_map({key: "" if value is None else value for key, value in values.items()})


def _load_dir(folder: Path) -> dict[str, str]:
    texts: dict[str, str] = {}
    for path in sorted(folder.glob("*.txt")):
        name = path.name.removesuffix(".txt")
        parts = name.split(".")
        if len(parts) not in (2, 3) or parts[1] not in MESSAGE_MEDIA:
            raise TemplateError(f"{path.name}: name it <event>.<medium>[.<channel>].txt, medium sms or webhook")
        try:
            text = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise TemplateError(f"{path.name}: cannot be read ({type(exc).__name__})") from exc
        check(name, text)
        texts[name] = text
    return texts


@lru_cache(maxsize=4)
def load_templates(folder: str = "") -> Templates:
    """The built-in templates, overridden by the files of `folder` (if given); checked once per process."""
    texts = dict(BUILT_IN)
    for name, text in texts.items():
        check(name, text)
    if folder:
        path = Path(folder)
        if not path.is_dir():
            raise TemplateError(f"messages_templates_dir {folder!r} is not a folder")
        texts.update(_load_dir(path))
    return Templates(texts)
