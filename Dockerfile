# Images for docker-compose.yml (Python 3.11 slim, as the project targets).
#   worker:    the hpo package, for `python -m hpo.screen` and `python -m hpo.optimize`
#   dashboard: optuna-dashboard alone, without TensorFlow, to browse the shared studies
# Both reach PostgreSQL with psycopg 3 (`postgresql+psycopg://...`).

FROM python:3.11-slim AS dashboard
RUN pip install --no-cache-dir "optuna-dashboard>=0.16" "optuna>=4.0" "psycopg[binary]>=3.1"
EXPOSE 8080

FROM python:3.11-slim AS worker
ENV PYTHONUNBUFFERED=1 \
    HPO_HOME=/studies
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hpo ./hpo
RUN pip install --no-cache-dir .
# Studies, generated data, artifacts and reports land here: a named volume shared by the containers.
VOLUME /studies
