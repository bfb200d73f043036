"""Letters and forms as PDF: an HTML template rendered by WeasyPrint, so each document is
a template the clinic can read and change, not drawing code.

WeasyPrint needs Pango from the system (Debian: libpango-1.0-0 libpangoft2-1.0-0, which
`.ci/run` installs); it is imported only when a PDF is made, so the app starts without it.
"""

from __future__ import annotations

from typing import Any

from flask import Response, render_template


def render_pdf(template: str, **context: Any) -> bytes:
    """The template rendered as HTML, then laid out as PDF (no network: images and styles
    come inline with the template)."""
    from weasyprint import HTML

    html = render_template(template, **context)
    pdf: bytes = HTML(string=html, url_fetcher=_no_fetch).write_pdf()
    return pdf


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Refuse every outside resource: a PDF of patient data never fetches a URL."""
    if url.startswith("data:"):
        from weasyprint.urls import default_url_fetcher

        fetched: dict[str, Any] = default_url_fetcher(url)
        return fetched
    raise ValueError(f"PDF templates may not load {url}")


def pdf_response(body: bytes, filename: str) -> Response:
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response
