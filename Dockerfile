# The ops image: `python -m ops` (its runtime half) for the backup and restore-drill CronJobs.
# Pinned base; redis-server and redis-check-rdb from Debian for verification and drills; non-root.
FROM python:3.11.14-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent ops

WORKDIR /app
COPY ops/runtime/requirements.txt ./requirements.txt
RUN pip install --no-cache-dir -r requirements.txt
# Only the CLI and its runtime half: the offline preview engine (ops/offline) needs Pulumi and stays out.
COPY ops/__init__.py ops/__main__.py ops/cli.py ops/errors.py ./ops/
COPY ops/runtime ./ops/runtime

USER 10001:10001
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TMPDIR=/tmp
ENTRYPOINT ["python", "-m", "ops"]
CMD ["--help"]
