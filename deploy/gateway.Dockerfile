# syntax=docker/dockerfile:1
# The sqlensemble gateway: the base install only (FastAPI, httpx, sqlglot, ...), no torch and no vLLM.
# Build from the repository root:
#   docker build -f deploy/gateway.Dockerfile -t sqlensemble-gateway:0.1.0 .
# Run (the stack file and the databases are mounted, never baked in):
#   docker run -p 8000:8000 -v $PWD/deploy/compose/stack.compose.yaml:/etc/sqlensemble/stack.yaml:ro \
#     -v $PWD/data/bird/dev/dev_databases:/data/databases:ro sqlensemble-gateway:0.1.0

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY sqlensemble/ sqlensemble/
COPY train/ train/
COPY serve/ serve/
COPY ensemble/ ensemble/
COPY eval/ eval/
# A wheel of the base install: the train/cpu/gpu extras (torch, vLLM) are never installed here.
RUN pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    SQLENSEMBLE_GATEWAY__HOST=0.0.0.0 \
    SQLENSEMBLE_GATEWAY__PORT=8000
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels sqlensemble \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin sqlensemble
USER 10001:10001
WORKDIR /tmp
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
ENTRYPOINT ["sqlensemble", "gateway"]
CMD ["--config", "/etc/sqlensemble/stack.yaml"]
