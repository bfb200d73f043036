"""A Spanish-speaking patient answers a PHQ-9 on her phone and reads it all in Spanish."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from clinic.extensions import db
from clinic.outcomes import services
from tests.factories import make_course, make_patient

pytestmark = pytest.mark.browser


@pytest.fixture
def pixel(browser: Any, devices: Any, live_server: str) -> Iterator[Any]:
    """A Pixel 7 as Playwright emulates it (viewport, touch, mobile user agent), in Spanish."""
    context = browser.new_context(**devices["Pixel 7"], base_url=live_server, locale="es-US")
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"browser errors: {errors}"


def _spanish_link(app: Any) -> str:
    course = make_course(make_patient(first_name="Lucía", language="es"))
    _link, url = services.create_link(course.patient_id, "PHQ-9")
    db.session.commit()
    return url.removeprefix(app.config["CLINIC_BASE_URL"])


def _answer(page: Any, item9: str) -> None:
    for number in range(1, 9):
        page.get_by_role("group", name=f"{number}.").get_by_label("Varios días").check()
    page.get_by_role("group", name="9.").get_by_label(item9).check()
    page.get_by_role("button", name="Enviar mis respuestas").click()


def test_a_spanish_speaking_patient_answers_a_phq9_on_her_phone(pixel: Any, app: Any) -> None:
    path = _spanish_link(app)
    pixel.goto(path)
    assert pixel.viewport_size["width"] < 500
    assert pixel.evaluate("document.documentElement.lang") == "es"
    expect(pixel.get_by_role("heading", name="Hola, Lucía")).to_be_visible()
    expect(pixel.get_by_text("Durante las últimas 2 semanas")).to_be_visible()
    first = pixel.get_by_role("group", name="1. Poco interés o placer en hacer cosas")
    expect(first).to_be_visible()
    box = first.get_by_label("Ningún día").bounding_box()
    assert box is not None and box["height"] >= 24  # a thumb-sized target
    # Forgetting an answer is explained in Spanish, and nothing is lost.
    pixel.get_by_role("button", name="Enviar mis respuestas").click()
    expect(pixel.get_by_text("Elija una respuesta, por favor.").first).to_be_visible()
    _answer(pixel, "Ningún día")
    expect(pixel.get_by_role("heading", name="Gracias")).to_be_visible()
    assert pixel.locator(".crisis").count() == 0
    pixel.goto(path)
    expect(pixel.get_by_text("Este cuestionario ya fue respondido.")).to_be_visible()


def test_item_9_shows_the_crisis_resources_in_spanish(pixel: Any, app: Any) -> None:
    pixel.goto(_spanish_link(app))
    _answer(pixel, "Más de la mitad de los días")
    crisis = pixel.locator(".crisis")
    expect(crisis).to_be_visible()
    expect(
        crisis.get_by_role("heading", name="No tiene que pasar por esto solo(a)")
    ).to_be_visible()
    assert "marque 2" in crisis.inner_text() and "AYUDA" in crisis.inner_text()
    assert crisis.get_by_role("link", name="Llame al 988").get_attribute("href") == "tel:988"
