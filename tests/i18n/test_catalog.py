"""No patient-facing word is left untranslated.

The words are extracted afresh from the sources `babel.cfg` names (so a new `_()` that
nobody translated fails here, not in front of a patient), and looked up in the compiled
catalog the app really loads (so a .po edited but not compiled fails too). Every page a
patient can reach without signing in is covered by babel.cfg.
"""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from clinic.i18n import SUPPORTED, TRANSLATIONS

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None}


def _sources() -> list[str]:
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, _options = parse_mapping_cfg(config)
    return [pattern for pattern, _method in method_map]


def _extracted() -> set[str]:
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        # A plural is one catalog entry, under its singular.
        found.add(message[0] if isinstance(message, tuple) else message)
    return {m for m in found if m}


def test_every_patient_facing_word_has_a_spanish_translation_in_the_compiled_catalog() -> None:
    words = _extracted()
    assert len(words) > 40  # the extraction really ran over the pages and messages
    for language in SUPPORTED[1:]:
        compiled = TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo"
        with compiled.open("rb") as handle:
            catalog = read_mo(handle)
        missing = []
        for word in sorted(words):
            message = catalog.get(word)
            strings = message.string if message else None
            ok = all(strings) if isinstance(strings, list | tuple) else bool(strings)
            if not ok:
                missing.append(word)
        assert missing == [], f"untranslated into {language}: {missing}"


def _key(value: object) -> object:
    """Plural ids and strings come as lists or tuples depending on the reader."""
    return tuple(value) if isinstance(value, list | tuple) else value


def test_the_compiled_catalog_matches_its_source() -> None:
    for language in SUPPORTED[1:]:
        folder = TRANSLATIONS / language / "LC_MESSAGES"
        with (folder / "messages.po").open("rb") as handle:
            source = {_key(m.id): _key(m.string) for m in read_po(handle) if m.id and not m.fuzzy}
        with (folder / "messages.mo").open("rb") as handle:
            compiled = {_key(m.id): _key(m.string) for m in read_mo(handle) if m.id}
        assert compiled == source, "run `make translations` to compile the catalog"


def test_every_page_a_patient_reaches_without_signing_in_is_translated() -> None:
    sources = _sources()
    patient_pages = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "templates").rglob("*.html")
        if re.search(r'extends "bare\.html"', path.read_text(encoding="utf-8"))
    )
    assert patient_pages, "no bare (patient) pages found"
    assert [page for page in patient_pages if page not in sources] == []
