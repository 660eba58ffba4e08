# Ping'an Hub. Build: docker build -t pingan-hub .
# Run alone (embedded SQLite and Mosquitto in /data):  docker run -p 8080:8080 -v hub-data:/data pingan-hub
# With PostgreSQL, an external broker and Prometheus: docker-compose.yml.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Mosquitto for the embedded mode (no HUB_MQTT_URL): the hub starts it as a child process, which keeps
# sessions and redelivers unacknowledged messages across hub restarts.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mosquitto \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin hub \
 && install -d -o hub -g hub -m 0750 /data

WORKDIR /src
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY drivers ./drivers
COPY simulators ./simulators
RUN pip install . && rm -rf /src

# Listen on all interfaces inside the container; keep the database, the embedded broker's state,
# secret.key, snapshots and clips in the /data volume.
ENV HUB_HTTP=0.0.0.0:8080 \
    HUB_SIA=0.0.0.0:12128 \
    HUB_DATA_DIR=/data \
    HUB_DATABASE_URL=sqlite:////data/hub.db
VOLUME ["/data"]
WORKDIR /data
USER hub

# 8080: API, console, /metrics. 1883: the embedded broker (it listens on the container's loopback
# only; devices outside use an external broker, see docker-compose.yml). 12128: SIA DC-09 (TCP, UDP).
EXPOSE 8080 1883 12128 12128/udp

# /healthz answers 200 only when the database and both brokers are reachable.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request, sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

# SIGTERM (docker stop) makes the hub commit what it holds and stop cleanly; give it time to.
STOPSIGNAL SIGTERM
CMD ["hub", "run"]
