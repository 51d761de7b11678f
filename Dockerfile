# mcdiag's two images, built from the repository root (the release workflow builds both for amd64 and arm64):
#   docker build --target probe -t ghcr.io/mcdiag/mcdiag-probe:VERSION .   # what probe pods run (`mcdiag probe ...`)
#   docker build --target cli   -t ghcr.io/mcdiag/mcdiag:VERSION .         # the CLI: entrypoint `mcdiag` (deploy/ runs it)
# VERSION is mcdiag.__version__: the probe image tag a run uses by default. For a private registry,
# push both there and pass --image-repository REGISTRY (or --image) to mcdiag.

FROM python:3.11-slim-bookworm AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY mcdiag ./mcdiag
COPY checks ./checks
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# The CLI: runs `mcdiag all ...` from a pipeline or as the Job/CronJob in deploy/ (--in-cluster).
FROM python:3.11-slim-bookworm AS cli
COPY --from=wheel /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
# Unprivileged; reports go wherever --report-dir points (a mounted volume in deploy/).
USER 65532:65532
WORKDIR /tmp
ENV NO_COLOR=1
ENTRYPOINT ["mcdiag"]
CMD ["--help"]

# The probe image: what probe pods run. Probes sniff and send raw packets: the pods ask for
# NET_RAW/NET_ADMIN; no other privilege is needed. The last stage, so a plain `docker build .` builds it.
FROM python:3.11-slim-bookworm AS probe
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap0.8 wireguard-tools iproute2 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=wheel /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
ENTRYPOINT []
CMD ["mcdiag", "probe", "--help"]
