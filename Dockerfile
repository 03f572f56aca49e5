# The ops image: `python -m ops` (its runtime half and the readiness scorecard) for the backup,
# restore-drill and readiness CronJobs.
# Pinned base; redis-server and redis-check-rdb from Debian for verification and drills; non-root.
# BASE is the pinned official image; the in-image tests (tests/image_env.py) build FROM a local
# bookworm image of the same layout (python and pip in /usr/local/bin) where no registry is reachable.
ARG BASE=python:3.11.14-slim-bookworm
FROM ${BASE}

RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent ops

WORKDIR /app
COPY ops/runtime/requirements.txt ./requirements.txt
COPY ops/readiness/requirements.txt ./requirements-readiness.txt
RUN pip install --no-cache-dir -r requirements.txt -r requirements-readiness.txt
# The CLI, its runtime half and the readiness scorecard with the policy pack it judges by, its stack
# configs and the runbooks it checks. The offline preview engine (ops/offline) runs the program and stays out.
COPY ops/__init__.py ops/__main__.py ops/cli.py ops/errors.py ./ops/
COPY ops/runtime ./ops/runtime
COPY ops/readiness ./ops/readiness
COPY policies/redisgw_policies ./policies/redisgw_policies
COPY policies/config ./policies/config
COPY docs/runbooks ./docs/runbooks

USER 10001:10001
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TMPDIR=/tmp
ENTRYPOINT ["python", "-m", "ops"]
CMD ["--help"]
