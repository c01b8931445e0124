# syntax=docker/dockerfile:1
# The fraudguard scoring service: `fraudguard serve` (FastAPI on uvicorn) in a small, non-root image.
#
#   docker build -f docker/fraudguard.Dockerfile -t fraudguard .          # from the repository root
#   docker run --rm -p 8000:8000 -v "$PWD/model:/models/current:ro" fraudguard
#   docker run --rm -p 8000:8000 -e FRAUDGUARD_TRACKING_URI=https://mlflow.internal \
#       -e FRAUDGUARD_MODEL_URI=models:/fraudguard@production fraudguard
#
# Every instruction carries its reason in the comment above it; course lesson 06 reads them from here.

# reason: a slim Debian base with the same Python minor version as development; no compilers or docs, far fewer packages to patch
FROM python:3.11-slim-bookworm

# reason: no .pyc files in the image, logs unbuffered so `docker logs` shows them at once, no pip cache in the layers
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# reason: one predictable working directory for the code
WORKDIR /app

# reason: dependencies first, in their own layer, so a code change reuses the cached install instead of reinstalling everything
COPY docker/requirements.txt /app/requirements.txt
# reason: install the service's runtime dependencies only: no notebooks, no test tools, no course tooling
RUN pip install -r /app/requirements.txt

# reason: a minimal pyproject that makes fraudguard installable on its own, without the course's dependencies
COPY docker/pyproject.toml /app/pyproject.toml
# reason: the package changes on every commit, so it comes after the dependency layer; only fraudguard is copied
COPY src/fraudguard /app/fraudguard
# reason: installing the package gives the `fraudguard` console script; --no-deps because the layer above has them
RUN pip install --no-deps /app && rm -rf /app/build

# reason: an unprivileged user with a fixed uid, created after the installs that need root
RUN useradd --create-home --uid 10001 fraudguard
# reason: run as that user, so a compromised process cannot modify the image or files mounted from the host
USER fraudguard

# reason: configuration through the environment, no secrets: credentials such as MLFLOW_TRACKING_TOKEN are passed at run time
ENV FRAUDGUARD_HOST=0.0.0.0 FRAUDGUARD_PORT=8000 FRAUDGUARD_MODEL_URI=/models/current FRAUDGUARD_LOG_LEVEL=INFO
# reason: document the port the service listens on (publishing it is the caller's decision)
EXPOSE 8000

# reason: the orchestrator restarts a container whose /health stops answering; the slim image has no curl, so Python does it
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['FRAUDGUARD_PORT'] + '/health', timeout=2)"]

# reason: exec form, so uvicorn is PID 1 and receives SIGTERM for a graceful shutdown
CMD ["fraudguard", "serve"]
