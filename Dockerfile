# lfx-cal: calendar feeds and deadline reminders for LFX Mentorship terms.
#   docker build -t lfx-cal .
#   docker run -p 8080:8080 -v lfx-data:/data lfx-cal                      # the demo
#   docker run -p 8080:8080 -v lfx-data:/data -v ./lfx-cal.toml:/config/lfx-cal.toml:ro \
#       lfx-cal serve --config /config/lfx-cal.toml --listen 0.0.0.0:8080
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY feeds ./feeds
COPY scheduler ./scheduler
COPY notifiers ./notifiers
COPY lfx_cal ./lfx_cal
COPY config ./config
RUN pip install . && useradd --system --uid 10001 --home-dir /data --create-home lfx

# The SQLite database (the embedded default) and the demo files live here.
VOLUME ["/data"]
USER lfx
WORKDIR /data
EXPOSE 8080
# /healthz answers 200 only when all is well (503 "degraded" names the reasons: a failing or
# stuck source, an unwritable database, overdue deliveries); Python is there, curl is not.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]
# exec form: lfx-cal is PID 1 and receives SIGTERM; it finishes in-flight sends, then exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["lfx-cal"]
CMD ["serve", "--listen", "0.0.0.0:8080"]
