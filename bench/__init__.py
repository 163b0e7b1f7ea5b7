"""Performance benchmark of the portal: see bench/README.md. Run as `python bench/run.py` or `python -m bench`."""
