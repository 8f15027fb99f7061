# The image every service of docker-compose.yml runs (worker, UI, one-off `vita` commands).
# CPU torch by default; for GPU workers build with --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128
FROM python:3.11-slim
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG EXTRAS=field
RUN apt-get update && apt-get install -y --no-install-recommends libsndfile1 ffmpeg && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY catalog catalog
COPY encoders encoders
COPY training training
COPY workers workers
COPY indexer indexer
COPY search_ui search_ui
COPY bench bench
COPY vita vita
RUN pip install --no-cache-dir torch torchvision --index-url "$TORCH_INDEX" \
 && pip install --no-cache-dir ".[$EXTRAS]"
ENV VITA_DATA_DIR=/data
VOLUME /data
ENTRYPOINT []
CMD ["vita", "--help"]
