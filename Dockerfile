# The aenv operator image. Runtime dependencies only, at the versions pinned in requirements.lock.
# tests/integration/test_image.py performs these install steps in a clean virtual environment.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY operator ./operator
RUN python -m pip wheel --no-cache-dir --disable-pip-version-check --no-deps -w /wheels . \
 && python -m venv /opt/aenv \
 && /opt/aenv/bin/pip install --no-cache-dir --disable-pip-version-check -c requirements.lock /wheels/aenv-*.whl

# The AWS emulator of the end-to-end workflow (moto with aenv's additions): `docker build --target emulator`.
FROM build AS emulator
RUN /opt/aenv/bin/pip install --no-cache-dir --disable-pip-version-check -c requirements.lock 'moto[server]' cbor2
USER 65532:65532
EXPOSE 5000
ENTRYPOINT ["/opt/aenv/bin/python", "-m", "aenv.local.moto_server", "-H", "0.0.0.0", "-p", "5000"]

# The operator image: the last stage, what `docker build .` makes.
FROM python:3.11-slim-bookworm
COPY --from=build /opt/aenv /opt/aenv
# Nothing is written outside /tmp (the chart mounts an emptyDir there and makes the root filesystem read-only).
ENV PATH=/opt/aenv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 HOME=/tmp
WORKDIR /tmp
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["aenv"]
CMD ["run", "--health-address", "0.0.0.0", "--health-port", "8080", "--metrics-address", "0.0.0.0", "--metrics-port", "9090"]
