# syntax=docker/dockerfile:1
# uplight in a container: `docker compose up` (compose.yaml), or README "Docker".
#
#   docker build -t uplight .
#   docker run -d -p 8080:8080 -v uplight-data:/data uplight
#
# /data holds the SQLite database (a volume: keep it), /config the TOML (mount your
# own over it; the image's is contrib/docker/config.toml). The process runs as an
# unprivileged user (uid 10001) and listens on every interface inside the container,
# port 8080 ($UPLIGHT_LISTEN); publish it where you like with -p.

ARG PYTHON_VERSION=3.12

# --- build: the uplight wheel and the wheels of its dependencies ---------------------
FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# hatchling builds the wheel with both packages (core/uplight, plugins/uplight_plugins);
# '.[fast]' adds uvloop's wheel, so the server runs on uvloop (docs/deploy.md).
COPY pyproject.toml README.md ./
COPY core/ core/
COPY plugins/ plugins/
RUN pip wheel --wheel-dir /wheels '.[fast]'

# --- run: the wheels installed, nothing to build with -------------------------------
FROM python:${PYTHON_VERSION}-slim
LABEL org.opencontainers.image.title="uplight" \
      org.opencontainers.image.description="Self-hosted status page and uptime monitor" \
      org.opencontainers.image.licenses="MIT"
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UPLIGHT_CONFIG=/config/config.toml \
    UPLIGHT_LISTEN=0.0.0.0:8080
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels 'uplight[fast]' \
 && groupadd --system --gid 10001 uplight \
 && useradd --system --uid 10001 --gid uplight --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin uplight \
 && mkdir -p /data /config /usr/share/doc/uplight \
 && chown uplight:uplight /data
COPY contrib/docker/config.toml /config/config.toml
# The example's first line, `#:schema ./uplight.schema.json`, finds the schema beside it.
COPY config.example.toml uplight.schema.json /usr/share/doc/uplight/
VOLUME ["/data", "/config"]
WORKDIR /data
USER 10001:10001
EXPOSE 8080
# No curl in a slim image: Python asks /healthz on the port $UPLIGHT_LISTEN names.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('UPLIGHT_LISTEN', ':8080').rsplit(':', 1)[1]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]
# uplight stops on SIGTERM: checks cancelled, results flushed, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["uplight"]
CMD ["serve", "--config", "/config/config.toml"]
