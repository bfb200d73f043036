"""Outcome measures: questionnaire catalog, scoring, course summaries and charts."""
