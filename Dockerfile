# syntax=docker/dockerfile:1
# The portal's one image: web (gunicorn), Celery worker and beat all run it (docker-compose.yml).
#
#   docker compose build          (or: docker build -t portal-app:local .)
#
# Every build step is a step of scripts/image_steps.sh, which CI also runs on the host
# (`bash scripts/image_steps.sh host`): the same hashed install, the same collectstatic, then the
# app started as a non-root user from a read-only tree. Nothing is installed when a container
# starts: the network may be closed at run time.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_STATIC_ROOT=/srv/static \
    DJANGO_MEDIA_ROOT=/srv/media

# postgresql-client: pg_dump / psql for scripts/backup and scripts/restore (same major as the db).
# pango, harfbuzz-subset and fonts-noto-cjk: WeasyPrint lays out the PDF copy of each public report
# and embeds a subset of the CJK font (issue 16); fontconfig finds the font.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
       libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*

# 1. Dependencies: only the hashed lock (regenerate with scripts/lock_requirements.sh), wheels only,
#    into /opt/venv owned by root: the app user can read and run it, never change it.
COPY requirements.lock scripts/image_steps.sh /build/
RUN bash /build/image_steps.sh deps /opt/venv /build/requirements.lock && rm -rf /build

# 2. The application (what .dockerignore lets through), byte-compiled, static files collected
#    into /srv/static (served by WhiteNoise), as root: read-only for the app user.
WORKDIR /app
COPY . /app
RUN bash scripts/image_steps.sh app /app

# 3. A non-root user; it owns only the media folder (a volume in docker-compose.yml).
RUN groupadd --system --gid 10001 portal \
    && useradd --system --uid 10001 --gid portal --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin portal \
    && install -d -o portal -g portal -m 0750 /srv/media
USER portal:portal

EXPOSE 8000
# docker-compose.yml sets each service's command; this default serves the web app.
# --no-control-socket: gunicorn (25.1+) would otherwise create ~/.gunicorn/gunicorn.ctl, and
# the portal user has no home (the host check in image_steps.sh fails on that error).
CMD ["gunicorn", "portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--worker-tmp-dir", "/dev/shm", "--no-control-socket", "--access-logfile", "-"]
