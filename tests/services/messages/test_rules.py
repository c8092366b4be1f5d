"""The pure rules of messages: which change tells the citizen what, reply parsing, templates, the gateway's
codes and signature, the retry schedule."""

from datetime import timedelta

import pytest

from services.messages.events import Change, dedupe_key, message_event
from services.messages.gateway import DEFAULT_CODES, classify, sign, verify
from services.messages.replies import parse_reply
from services.messages.sender import retry_delay
from services.messages.templates import BUILT_IN, TemplateError, Templates, check, load_templates

pytestmark = pytest.mark.pure


def _change(kind: str, *, public: bool = False, note: str | None = None, **data: object) -> Change:
    return Change(1, kind, public, note, dict(data), version=3, resolution_no=1, reopen_count=0)


def test_the_first_routing_decision_is_the_receipt_and_later_ones_are_not():
    assert message_event(_change("routed", routing_no=1)) == "received"
    assert message_event(_change("needs_dispatch", routing_no=1)) == "received"
    assert message_event(_change("routed", routing_no=2)) is None  # a re-route after a return


def test_only_public_replies_and_the_resolution_and_reopening_tell_the_citizen():
    assert message_event(_change("note", public=True, note="已联系施工方")) == "replied"
    assert message_event(_change("note", public=False, note="内部")) is None
    assert message_event(_change("co_task_replied", public=True, note="违建已拆除")) == "replied"
    assert message_event(_change("resolved", note="已修复")) == "resolved"
    assert message_event(_change("reopened")) == "reopened"
    assert message_event(_change("accepted")) is None


def test_one_message_per_fact():
    assert dedupe_key("received", _change("routed")) == "received:1"
    assert dedupe_key("resolved", _change("resolved")) == "resolved:1:1"
    assert dedupe_key("replied", _change("note")) == "replied:1:3"


@pytest.mark.parametrize(
    ("text", "answer", "code"),
    [
        ("1", "satisfied", None),
        (" ２ ", "basically_satisfied", None),  # full-width digit
        ("3。", "dissatisfied", None),
        ("48211", "satisfied", "4821"),
        ("4821 3", "dissatisfied", "4821"),
        ("满意", "satisfied", None),
        ("不满意", "dissatisfied", None),
        ("4821不满意", "dissatisfied", "4821"),
        ("基本满意！", "basically_satisfied", None),
        ("4", None, None),
        ("好的谢谢", None, None),
        ("", None, None),
        ("1" * 30, None, None),
    ],
)
def test_sms_reply_codes(text: str, answer: str | None, code: str | None):
    parsed = parse_reply(text)
    assert (parsed.answer, parsed.reply_code if answer else None) == (answer, code)


def test_templates_offer_only_their_events_values():
    for name, text in BUILT_IN.items():
        check(name, text)
    with pytest.raises(TemplateError, match="phone"):
        check("received.sms", "您的电话{phone}")
    with pytest.raises(TemplateError):
        check("received.sms", "{tracking_no.__class__}")
    with pytest.raises(TemplateError):
        check("received.sms", "{tracking_no!r}")
    with pytest.raises(TemplateError, match="unknown event"):
        check("closed.sms", "x")


def test_the_channels_own_template_wins(tmp_path):
    (tmp_path / "received.sms.app.txt").write_text("APP {tracking_no}", encoding="utf-8")
    templates = load_templates(str(tmp_path))
    assert templates.render("received", "sms", "app", {"tracking_no": "1"}) == "APP 1"
    assert templates.render("received", "sms", "web", {"tracking_no": "1"}).startswith("您的诉求已受理")
    assert templates.render("received", "sms", "hotline", {"tracking_no": "1"}).startswith("您通过热线")
    (tmp_path / "replied.sms.txt").write_text("{secret}", encoding="utf-8")
    load_templates.cache_clear()
    with pytest.raises(TemplateError, match=r"replied\.sms"):
        load_templates(str(tmp_path))
    load_templates.cache_clear()
    assert isinstance(load_templates(), Templates)


def test_gateway_codes_are_mapped():
    assert classify(200, {"code": "OK", "provider_message_id": "p1"}, DEFAULT_CODES).verdict == "sent"
    assert classify(200, {"code": "isv.BUSINESS_LIMIT_CONTROL"}, DEFAULT_CODES).verdict == "retry"
    assert classify(200, {"code": "INVALID_NUMBER"}, DEFAULT_CODES).verdict == "failed"
    assert classify(200, {"code": "isv.MOBILE_NUMBER_ILLEGAL"}, DEFAULT_CODES).verdict == "failed"
    assert classify(503, None, DEFAULT_CODES).verdict == "retry"
    assert classify(400, {"code": "SOMETHING_NEW"}, DEFAULT_CODES).verdict == "retry"  # unknown: never lost
    assert classify(500, {"code": "OK"}, DEFAULT_CODES).verdict == "retry"  # OK only counts with a 2xx
    assert classify(200, {"code": "X"}, {"X": "failed"}).verdict == "failed"


def test_gateway_signature_covers_timestamp_and_body():
    header = sign("s3cret", "1764810000", b'{"a":1}')
    assert verify("s3cret", "1764810000", b'{"a":1}', header, now=1764810100)
    assert not verify("s3cret", "1764810000", b'{"a":2}', header, now=1764810100)
    assert not verify("other", "1764810000", b'{"a":1}', header, now=1764810100)
    assert not verify("s3cret", "1764810000", b'{"a":1}', header, now=1764810000 + 301)  # stale: no replay
    assert not verify("", "1764810000", b'{"a":1}', sign("", "1764810000", b'{"a":1}'), now=1764810000)


def test_retry_schedule_repeats_its_last_step():
    schedule = [10, 60]
    assert retry_delay(1, schedule, rand=lambda: 0.0) == timedelta(seconds=10)
    assert retry_delay(2, schedule, rand=lambda: 0.0) == timedelta(seconds=60)
    assert retry_delay(9, schedule, rand=lambda: 1.0) == timedelta(seconds=45)
