# mcdiag's probe image: what probe pods run (`mcdiag probe ...`). Build from the repository root:
#   docker build -t REGISTRY/mcdiag-probe:$(python -c 'import mcdiag; print(mcdiag.__version__)') .
# and point mcdiag at it with --image, or at a mirror holding it with --image-repository.
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap0.8 wireguard-tools iproute2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY mcdiag ./mcdiag
COPY checks ./checks
RUN pip install --no-cache-dir . && rm -rf /src
WORKDIR /
# Probes sniff and send raw packets: the pods ask for NET_RAW/NET_ADMIN; no other privilege is needed.
ENTRYPOINT []
CMD ["mcdiag", "probe", "--help"]
