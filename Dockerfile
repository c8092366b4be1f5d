# One image for every Minqing process (intake API, scoring service, routing worker, migrations);
# docker-compose.yml picks the process with `command:` (the commands of cli/processes.py).
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
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin minqing

USER minqing

EXPOSE 8000 8001

CMD ["uvicorn", "intake_api.app:app", "--host", "0.0.0.0", "--port", "8000"]
