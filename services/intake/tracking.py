"""Tracking numbers a caller can read over the phone, and the citizen's tracking token."""

import hashlib
import secrets
from datetime import datetime

RANDOM_DIGITS = 8
LENGTH = 6 + RANDOM_DIGITS + 1


def _luhn_digit(digits: str) -> str:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def new_tracking_no(received_at: datetime) -> str:
    """`YYMMDD` + 8 random digits + a check digit: 15 digits, read in three groups of five.

    The random part gives 10^8 numbers a day, and tracking also asks for the phone's last four
    digits or the citizen token, so guessing a number reveals nothing.
    """
    body = received_at.strftime("%y%m%d") + f"{secrets.randbelow(10**RANDOM_DIGITS):0{RANDOM_DIGITS}d}"
    return body + _luhn_digit(body)


def is_well_formed(tracking_no: str) -> bool:
    """A cheap check before any database read: length, digits, check digit (catches one misheard digit)."""
    return (
        len(tracking_no) == LENGTH
        and tracking_no.isascii()
        and tracking_no.isdigit()
        and _luhn_digit(tracking_no[:-1]) == tracking_no[-1]
    )


def normalise_tracking_no(raw: str) -> str:
    """Accept the grouped forms people write (`26112 64821 77353`, dashes)."""
    return raw.replace(" ", "").replace("-", "")


def new_citizen_token() -> str:
    return secrets.token_urlsafe(24)


def hash_citizen_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
