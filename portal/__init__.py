import os

# openpyxl writes through lxml whenever lxml is installed, and python-docx (从Word导入) brings lxml:
# keep openpyxl on the standard library's XML, as the exports (their golden files, their timings)
# and the import were built and measured with. Set before anything imports openpyxl: every
# process of the portal imports this package first (settings, wsgi, celery, manage.py).
os.environ.setdefault("OPENPYXL_LXML", "False")

from .celery import app as celery_app  # noqa: E402

__all__ = ["celery_app"]
