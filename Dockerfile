# syntax=docker/dockerfile:1
# Two images from one file:
#   docker build --target bot -t clipbot-bot .       chat adapters only (no torch), ~300 MB
#   docker build --target worker -t clipbot-worker . GPU worker: PyPI's torch wheel brings CUDA

FROM python:3.11-slim AS source
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY clipbot ./clipbot

FROM source AS bot
# EXTRAS=bot,semantic adds the offline sentence model to moderation (pulls in torch). Its
# ONNX export is written to ~/.cache/clipbot on the first start (about 10 s).
ARG EXTRAS=bot
RUN pip install ".[${EXTRAS}]"
RUN useradd --system --uid 10001 --create-home clipbot
USER clipbot
CMD ["clipbot", "run", "--no-worker"]

FROM source AS worker
RUN pip install ".[worker]"
RUN useradd --system --uid 10001 --create-home clipbot && mkdir /models && chown clipbot /models
USER clipbot
# Model weights are cached here; mount a volume so they are downloaded once.
ENV HF_HOME=/models CLIPBOT_CACHE_DIR=/models/clipbot
CMD ["clipbot", "worker"]
