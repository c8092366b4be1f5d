# One image for every Minqing process (intake API, scoring service, routing worker, migrations);
# docker-compose.yml picks the process with `command:` (the commands of cli/processes.py).
# The web console's pinned front-end files (console/package-lock.json: Leaflet), installed by npm in a
# stage of their own; only console/node_modules reaches the image (no node at run time, no CDN).
FROM python:3.11-slim AS console-assets
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /assets
COPY console/package.json console/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The pinned dependencies first, in their own layer: rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the code (named one by one so .venv/, .data/ and tests never reach the image) and the
# project itself.
COPY alembic.ini ./
COPY migrations ./migrations
COPY shared ./shared
COPY services ./services
COPY intake_api ./intake_api
COPY scoring_service ./scoring_service
COPY routing_worker ./routing_worker
COPY cli ./cli
COPY console ./console
COPY --from=console-assets /assets/node_modules ./console/node_modules
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin minqing

USER minqing

EXPOSE 8000 8001

CMD ["uvicorn", "intake_api.app:app", "--host", "0.0.0.0", "--port", "8000"]
