"""Phone numbers: normalised on intake, masked on output."""

import re

_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"(0\d{2,3})(\d{7,8})")
_E164 = re.compile(r"\+[1-9]\d{7,14}")


def normalise_phone(raw: str) -> str:
    """Mainland mobile (`13800000000`), landline with area code (`0574-87654321`) or E.164 (`+85291234567`).

    Raises ValueError for anything else.
    """
    compact = re.sub(r"[\s\-()（）]", "", raw)
    if compact.startswith("+86"):
        compact = compact[3:]
    elif compact.startswith("0086"):
        compact = compact[4:]
    if _MOBILE.fullmatch(compact):
        return compact
    if landline := _LANDLINE.fullmatch(compact):
        return f"{landline.group(1)}-{landline.group(2)}"
    if _E164.fullmatch(compact):
        return compact
    raise ValueError("not a mainland mobile, a landline with area code, or an E.164 number")


def mask_phone(phone: str) -> str:
    """`138****0000`: the first three and last four digits stay."""
    digits = phone.replace("-", "")
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(name: str) -> str:
    """`张*` / `欧阳**`: the first character stays."""
    return name[:1] + "*" * max(1, len(name) - 1) if name else name


def last4(phone: str) -> str:
    return phone.replace("-", "")[-4:]
