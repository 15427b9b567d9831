# lfx-cal: calendar feeds and deadline reminders for LFX Mentorship terms.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY feeds ./feeds
COPY scheduler ./scheduler
COPY notifiers ./notifiers
COPY lfx_cal ./lfx_cal
COPY config ./config
RUN pip install . && useradd --system --uid 10001 --home-dir /data --create-home lfx

USER lfx
WORKDIR /data
ENTRYPOINT ["lfx-cal"]
CMD ["show"]
