"""Letters and forms as PDF: an HTML template rendered by WeasyPrint, so each document is
a template the clinic can read and change, not drawing code.

WeasyPrint needs Pango from the system (Debian: libpango-1.0-0 libpangoft2-1.0-0, which
`.ci/run` installs); it is imported only when a PDF is made, so the app starts without it.
"""

from __future__ import annotations

from typing import Any

from flask import Response, render_template


def render_pdf(template: str, **context: Any) -> bytes:
    """The template rendered as HTML, then laid out as PDF. Only `data:` URLs may be
    loaded (an inline signature image): a PDF of patient data never fetches a URL."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    html = render_template(template, **context)
    fetcher = URLFetcher(allowed_protocols={"data"})
    pdf: bytes = HTML(string=html, url_fetcher=fetcher).write_pdf()
    return pdf


def pdf_response(body: bytes, filename: str) -> Response:
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response
