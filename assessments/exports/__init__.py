"""Public disclosure outputs, all built from `public.build()`: HTML page, xlsx, JSON, CSV."""
