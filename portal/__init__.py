import os

# openpyxl writes its XML through lxml when lxml is installed (python-docx brings it) and through
# the standard library otherwise, and the bytes differ. One writer, whatever else is installed,
# keeps every published workbook reproducible byte for byte (docs/adr/0010). Set before anything
# imports openpyxl: Django loads this package first in the web, the worker and the tests.
os.environ.setdefault("OPENPYXL_LXML", "False")

from .celery import app as celery_app  # noqa: E402

__all__ = ["celery_app"]
