# The aenv operator image. Runtime dependencies only, at the versions pinned in requirements.lock.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY operator ./operator
RUN python -m venv /opt/aenv \
 && /opt/aenv/bin/pip install --no-cache-dir --disable-pip-version-check -c requirements.lock .

FROM python:3.11-slim-bookworm
COPY --from=build /opt/aenv /opt/aenv
ENV PATH=/opt/aenv/bin:$PATH PYTHONUNBUFFERED=1
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["aenv", "run", "--liveness", "http://0.0.0.0:8080/healthz", "--metrics-port", "9090", "--metrics-address", "0.0.0.0"]
