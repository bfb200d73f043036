"""The ASC X12 837P (005010X222A1) professional claim, written segment by segment.

One interchange per export: the clinic is submitter and billing provider (from the
`CLINIC_BILLING_*` settings), each patient is their own subscriber (SBR02 = 18, so the
patient loop 2000C is not sent), and each course's lines of one payer are one claim of at
most 50 service lines, as the guide allows. `pyx12` checks the result in the tests.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from clinic.billing.coding import BillingLine

SEGMENT_END = "~"
ELEMENT = "*"
COMPONENT = ":"
REPETITION = "^"
MAX_LINES_PER_CLAIM = 50
MAX_DIAGNOSES = 12
PLACE_OF_SERVICE_OFFICE = "11"
_NOT_X12 = re.compile(r"[^A-Z0-9 .,&'()/#-]")


@dataclass(frozen=True)
class Provider:
    """The billing provider (and submitter): the clinic."""

    name: str
    npi: str
    tax_id: str
    street: str
    city: str
    state: str
    zip: str
    contact_email: str
    receiver_id: str


@dataclass(frozen=True)
class Subscriber:
    """A patient as their own insurance subscriber, with the payer of the claim."""

    patient_id: int
    mrn: str
    first_name: str
    last_name: str
    date_of_birth: date
    sex: str  # M, F or U
    member_id: str
    street: str
    city: str
    state: str
    zip: str
    payer_name: str
    payer_id: str


@dataclass(frozen=True)
class Claim:
    subscriber: Subscriber
    course_id: int
    authorization_number: str | None
    lines: tuple[BillingLine, ...]

    @property
    def diagnoses(self) -> list[str]:
        codes = dict.fromkeys(code for line in self.lines for code in line.icd10)
        return list(codes)[:MAX_DIAGNOSES]

    @property
    def total(self) -> Decimal:
        return sum((line.charge or Decimal(0) for line in self.lines), Decimal(0))


def text(value: str, limit: int = 60) -> str:
    """A name or address as X12 carries it: upper case, no separator characters."""
    return _NOT_X12.sub("", value.upper()).strip()[:limit]


def money(value: Decimal) -> str:
    """X12 amounts drop trailing zeros: 400.00 -> 400, 210.50 -> 210.5."""
    text_value = f"{value:.2f}".rstrip("0").rstrip(".")
    return text_value or "0"


def claim_filing_indicator(payer_name: str) -> str:
    """SBR09: MB Medicare Part B, MC Medicaid, CI commercial insurance."""
    name = payer_name.lower()
    if "medicare" in name:
        return "MB"
    if "medicaid" in name:
        return "MC"
    return "CI"


def split_claims(
    lines: Sequence[BillingLine], subscribers: dict[tuple[int, str], Subscriber]
) -> list[Claim]:
    """Billable lines grouped per (patient, payer, course), at most 50 lines a claim."""
    groups: dict[tuple[int, str, int], list[BillingLine]] = {}
    for line in lines:
        if line.payer is None:
            continue
        groups.setdefault((line.patient_id, line.payer, line.course_id), []).append(line)
    claims = []
    for (patient_id, payer, course_id), group in groups.items():
        for start in range(0, len(group), MAX_LINES_PER_CLAIM):
            chunk = tuple(group[start : start + MAX_LINES_PER_CLAIM])
            claims.append(
                Claim(
                    subscriber=subscribers[(patient_id, payer)],
                    course_id=course_id,
                    authorization_number=chunk[0].authorization_number,
                    lines=chunk,
                )
            )
    return claims


def _isa(provider: Provider, control: int, now: datetime, production: bool) -> str:
    sender = text(provider.tax_id, 15).ljust(15)
    receiver = text(provider.receiver_id, 15).ljust(15)
    return ELEMENT.join(
        [
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            "ZZ",
            sender,
            "ZZ",
            receiver,
            f"{now:%y%m%d}",
            f"{now:%H%M}",
            REPETITION,
            "00501",
            f"{control:09d}",
            "0",
            "P" if production else "T",
            COMPONENT,
        ]
    )


def _claim_segments(claim: Claim, number: int) -> list[list[str]]:
    subscriber = claim.subscriber
    segments: list[list[str]] = [
        ["SBR", "P", "18", "", "", "", "", "", "", claim_filing_indicator(subscriber.payer_name)],
        [
            "NM1",
            "IL",
            "1",
            text(subscriber.last_name),
            text(subscriber.first_name, 35),
            "",
            "",
            "",
            "MI",
            text(subscriber.member_id, 80),
        ],
        ["N3", text(subscriber.street, 55)],
        ["N4", text(subscriber.city, 30), subscriber.state, subscriber.zip],
        ["DMG", "D8", f"{subscriber.date_of_birth:%Y%m%d}", subscriber.sex],
        ["NM1", "PR", "2", text(subscriber.payer_name), "", "", "", "", "PI", subscriber.payer_id],
    ]
    diagnoses = claim.diagnoses
    segments.append(
        [
            "CLM",
            f"{subscriber.mrn}-{claim.course_id}-{number}"[:38],
            money(claim.total),
            "",
            "",
            COMPONENT.join([PLACE_OF_SERVICE_OFFICE, "B", "1"]),
            "Y",
            "A",
            "Y",
            "Y",
        ]
    )
    if claim.authorization_number:
        segments.append(["REF", "G1", text(claim.authorization_number, 50)])
    if diagnoses:
        segments.append(
            [
                "HI",
                *(
                    COMPONENT.join(["ABK" if n == 0 else "ABF", code.replace(".", "")])
                    for n, code in enumerate(diagnoses)
                ),
            ]
        )
    pointers = COMPONENT.join(str(n) for n in range(1, min(len(diagnoses), 4) + 1))
    for n, line in enumerate(claim.lines, 1):
        segments += [
            ["LX", str(n)],
            [
                "SV1",
                COMPONENT.join(["HC", line.cpt]),
                money(line.charge or Decimal(0)),
                "UN",
                str(line.units),
                "",
                "",
                pointers or "1",
            ],
            ["DTP", "472", "D8", f"{line.date:%Y%m%d}"],
        ]
    return segments


def interchange(
    claims: Sequence[Claim],
    provider: Provider,
    *,
    control: int,
    now: datetime,
    production: bool = True,
) -> str:
    """The whole interchange (ISA ... IEA), one segment a line."""
    transaction: list[list[str]] = [
        ["ST", "837", "0001", "005010X222A1"],
        ["BHT", "0019", "00", str(control), f"{now:%Y%m%d}", f"{now:%H%M}", "CH"],
        ["NM1", "41", "2", text(provider.name), "", "", "", "", "46", provider.tax_id],
        ["PER", "IC", text(provider.name), "EM", provider.contact_email],
        ["NM1", "40", "2", text(provider.receiver_id), "", "", "", "", "46", provider.receiver_id],
        ["HL", "1", "", "20", "1"],
        ["NM1", "85", "2", text(provider.name), "", "", "", "", "XX", provider.npi],
        ["N3", text(provider.street, 55)],
        ["N4", text(provider.city, 30), provider.state, provider.zip],
        ["REF", "EI", provider.tax_id],
    ]
    hl = 1
    for number, claim in enumerate(claims, 1):
        hl += 1
        transaction.append(["HL", str(hl), "1", "22", "0"])
        transaction += _claim_segments(claim, number)
    transaction.append(["SE", str(len(transaction) + 1), "0001"])
    segments = [
        _isa(provider, control, now, production),
        ELEMENT.join(
            [
                "GS",
                "HC",
                text(provider.tax_id, 15),
                text(provider.receiver_id, 15),
                f"{now:%Y%m%d}",
                f"{now:%H%M}",
                str(control),
                "X",
                "005010X222A1",
            ]
        ),
        *(ELEMENT.join(segment).rstrip(ELEMENT) for segment in transaction),
        ELEMENT.join(["GE", "1", str(control)]),
        ELEMENT.join(["IEA", "1", f"{control:09d}"]),
    ]
    return "".join(segment + SEGMENT_END + "\n" for segment in segments)
