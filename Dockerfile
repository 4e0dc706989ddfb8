# canaryd's controller image: `docker build -t canaryd:latest .`
# The install step is the one the tests use (`pip install .`), so the image runs the tested code.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY canaryd ./canaryd
RUN pip install . && rm -rf /src

# A fixed non-root user; manifests/base/deployment.yaml runs it with a read-only root filesystem.
RUN groupadd --system --gid 65532 canaryd \
    && useradd --system --uid 65532 --gid 65532 --no-create-home --shell /usr/sbin/nologin canaryd
USER 65532:65532
WORKDIR /tmp

EXPOSE 8080
ENTRYPOINT ["canaryd"]
CMD ["run"]
