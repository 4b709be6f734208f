# The etalon-monitor image: the daemon (`etalon-monitor run`) and, in docker-compose.yml, the
# keyless demo vendor (`etalon-monitor simulate`). Configuration comes from ETALON_* variables
# (or a YAML file named by ETALON_CONFIG); API keys only from the environment, never baked in.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY monitor ./monitor
COPY migrations ./migrations
# `migrations` is imported as a top-level package by the store, so keep /app importable.
ENV PYTHONPATH=/app
RUN pip install ".[fast]" \
    && useradd --system --uid 10001 --home-dir /var/lib/etalon etalon \
    && mkdir -p /var/lib/etalon \
    && chown etalon /var/lib/etalon

USER etalon
ENV ETALON_DATA_DIR=/var/lib/etalon \
    ETALON_EXPORTER__LISTEN=0.0.0.0:9464
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4)"]
CMD ["etalon-monitor", "run"]
