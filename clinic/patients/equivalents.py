"""Conversion tables for the medication load, as data with their sources.

Opioids: morphine milligram equivalents (MME) per mg, from the CDC Clinical Practice
Guideline for Prescribing Opioids for Pain, United States, 2022 (MMWR Recomm Rep
2022;71(3), Table). The CDC table gives transdermal fentanyl per mcg/h (2.4), and leaves
buprenorphine out on purpose (a partial agonist, not expected to carry the dose-dependent
overdose risk of full agonists): a buprenorphine entry has no MME.

Benzodiazepines: oral mg equivalent to 10 mg of diazepam, from the Ashton Manual
(Benzodiazepines: How They Work and How to Withdraw, 2002, Table 1, "approximately
equivalent to diazepam 10 mg"); where Ashton gives a range the lower bound is used (the
conservative, larger load). Factor = 10 / that dose.
"""

from __future__ import annotations

from decimal import Decimal

MME_PER_MG: dict[str, Decimal] = {
    "codeine": Decimal("0.15"),
    "hydrocodone": Decimal("1"),
    "hydromorphone": Decimal("5"),
    "methadone": Decimal("4.7"),
    "morphine": Decimal("1"),
    "oxycodone": Decimal("1.5"),
    "oxymorphone": Decimal("3"),
    "tapentadol": Decimal("0.4"),
    "tramadol": Decimal("0.2"),
}
MME_PER_MCG_PER_HOUR: dict[str, Decimal] = {"fentanyl": Decimal("2.4")}
NO_MME: frozenset[str] = frozenset({"buprenorphine"})
"""Opioids the CDC 2022 table deliberately gives no factor."""

DIAZEPAM_10MG_EQUIVALENT: dict[str, Decimal] = {
    "alprazolam": Decimal("0.5"),
    "bromazepam": Decimal("5"),
    "chlordiazepoxide": Decimal("25"),
    "clobazam": Decimal("20"),
    "clonazepam": Decimal("0.5"),
    "clorazepate": Decimal("15"),
    "diazepam": Decimal("10"),
    "estazolam": Decimal("1"),
    "flurazepam": Decimal("15"),
    "lorazepam": Decimal("1"),
    "nitrazepam": Decimal("10"),
    "oxazepam": Decimal("20"),
    "quazepam": Decimal("20"),
    "temazepam": Decimal("20"),
    "triazolam": Decimal("0.5"),
}


def generic_name(drug: str) -> str:
    """The table's key for what staff typed: "Oxycodone ER 10mg" -> "oxycodone"."""
    words = drug.strip().lower().replace("-", " ").replace("/", " ").split()
    known = {*MME_PER_MG, *MME_PER_MCG_PER_HOUR, *NO_MME, *DIAZEPAM_10MG_EQUIVALENT}
    return next((word for word in words if word in known), words[0] if words else "")


def diazepam_mg_per_mg(drug: str) -> Decimal | None:
    equivalent = DIAZEPAM_10MG_EQUIVALENT.get(generic_name(drug))
    return Decimal(10) / equivalent if equivalent else None
