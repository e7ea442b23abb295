"""Phone numbers and WhatsApp identifiers in one canonical form, so one person stays one contact.

- phone: E.164 ("+5511987654321"). A Brazilian mobile written without the extra 9th digit
  ("+55 11 8765-4321", the pre-2016 form WhatsApp still uses for old accounts) is canonicalised
  WITH the 9 ("+5511987654321").
- wa_jid: "<digits>@s.whatsapp.net" with the digits canonicalised like the phone.
- lid: "<id>@lid" (WhatsApp's privacy identifier; not a phone number).
"""
from __future__ import annotations

import re

JID_SUFFIX = "@s.whatsapp.net"
LID_SUFFIX = "@lid"

_NON_DIGITS = re.compile(r"\D+")


def digits(value: str) -> str:
    return _NON_DIGITS.sub("", value or "")


def _canonical_digits(number: str) -> str:
    """Digits (country code first) with the Brazilian 9th digit restored on mobiles."""
    if number.startswith("55") and len(number) == 12 and number[4] in "6789":
        # +55 DD XXXXXXXX: an 8-digit mobile (starts 6-9) -> add the 9 (landlines start 2-5)
        return number[:4] + "9" + number[4:]
    return number


def normalize_phone(value: str, *, default_country: str = "55") -> str:
    """E.164 of ``value`` or "" when it is not a plausible phone number.

    Accepts "+55 (11) 98765-4321", "5511987654321", "11 98765-4321" (national, Brazil by default),
    "011 98765-4321" and a JID ("5511987654321@s.whatsapp.net" or with a device ":12" suffix)."""
    if not value:
        return ""
    value = value.strip()
    if "@" in value:
        user, _, server = value.partition("@")
        if server not in ("s.whatsapp.net", "c.us"):
            return ""  # lid, group, broadcast: not a phone
        value = "+" + user.split(":", 1)[0]
    explicit = value.startswith("+") or value.startswith("00")
    number = digits(value)
    if value.startswith("00"):
        number = number[2:]
    if not explicit and default_country and 10 <= len(number.lstrip("0")) <= 11 and not number.startswith(default_country):
        # national Brazilian number, maybe with a trunk 0: DD + 8/9 digits
        number = default_country + number.lstrip("0")
    if not 8 <= len(number) <= 15:
        return ""
    return "+" + _canonical_digits(number)


def phone_variants(phone: str) -> list[str]:
    """Every E.164 form a Brazilian mobile may arrive in (with and without the 9th digit),
    canonical first. Other numbers have one form."""
    canonical = normalize_phone(phone)
    if not canonical:
        return []
    forms = [canonical]
    number = canonical[1:]
    if number.startswith("55") and len(number) == 13 and number[4] == "9" and number[5] in "6789":
        forms.append("+" + number[:4] + number[5:])
    return forms


def phone_to_jid(phone: str) -> str:
    canonical = normalize_phone(phone)
    return f"{canonical[1:]}{JID_SUFFIX}" if canonical else ""


def normalize_jid(value: str) -> str:
    """Canonical "<digits>@s.whatsapp.net" (device suffix dropped, BR 9th digit restored), or ""."""
    if not value or "@" not in value:
        return ""
    user, _, server = value.strip().partition("@")
    if server not in ("s.whatsapp.net", "c.us"):
        return ""
    return phone_to_jid("+" + user.split(":", 1)[0])


def jid_variants(jid: str) -> list[str]:
    canonical = normalize_jid(jid)
    if not canonical:
        return []
    return [p[1:] + JID_SUFFIX for p in phone_variants("+" + canonical.split("@", 1)[0])]


def jid_to_phone(jid: str) -> str:
    canonical = normalize_jid(jid)
    return "+" + canonical.split("@", 1)[0] if canonical else ""


def normalize_lid(value: str) -> str:
    """Canonical "<id>@lid" or ""."""
    if not value:
        return ""
    value = value.strip()
    user, _, server = value.partition("@")
    if server and server != "lid":
        return ""
    user = user.split(":", 1)[0]
    return f"{user}{LID_SUFFIX}" if user.isdigit() else ""


def format_phone(phone: str) -> str:
    """Readable form for pages: "+55 11 98765-4321" for Brazil, E.164 otherwise."""
    number = digits(phone)
    if number.startswith("55") and len(number) in (12, 13):
        local = number[4:]
        return f"+55 {number[2:4]} {local[:-4]}-{local[-4:]}"
    return f"+{number}" if number else ""
