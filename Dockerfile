# backprop-grader: one image for the web app, the workers and the migration step.
FROM python:3.11-slim-bookworm

# bubblewrap jails student code (docs/security.md).
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY grader grader
COPY exercises exercises
COPY cli cli
COPY web web
COPY worker worker
COPY migrations migrations
RUN pip install --no-cache-dir -e .

ENV BACKPROP_HOME=/data
VOLUME /data
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "web:create_app()"]
