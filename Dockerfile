# One image for every daemon of the miniature Internet; docker-compose.yml (written by
# `minternet compose`) runs one container of it per host of the topology, each with its own
# `minternet container NAME` command.
#
# BASE_IMAGE: any Debian-based image with python3 (>= 3.11) and its venv module. By default the
# official Python image; a plain Debian image with python3-venv works the same (the compose
# test, with no image registry, builds one with debootstrap: tools/compose-env).
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS build
LABEL org.opencontainers.image.title=minternet
# pip checks PyPI's certificate against the system's CA bundle, the one the image's
# ca-certificates keeps (and the one a TLS-inspecting proxy's CA is added to)
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
# The dependencies first, in a layer of their own: a change to the code rebuilds in seconds.
# Every one comes as a wheel for Linux: no compiler is needed, here or in the image.
COPY pyproject.toml ./
RUN python3 -m venv /opt/minternet \
    && python3 -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"], sep="\n")' > requirements.txt \
    && /opt/minternet/bin/pip install -r requirements.txt
COPY README.md ./
COPY minternet minternet
COPY dnsserver dnsserver
COPY tracker tracker
COPY mailserver mailserver
COPY peer peer
RUN /opt/minternet/bin/pip install --no-deps .

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title=minternet
# The daemons run as an unprivileged user: the standard ports below 1024 (53, 25, 110, 143,
# 465, 587, 993, 995) are open to it because docker-compose.yml sets the container's
# net.ipv4.ip_unprivileged_port_start to 0 (Docker's default since 20.10, set there anyway).
RUN useradd --system --uid 10053 --user-group --no-create-home \
        --home-dir /var/lib/minternet minternet
COPY --from=build /opt/minternet /opt/minternet
ENV PATH=/opt/minternet/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# The state folders the compose file mounts named volumes on, owned by that user (a new
# volume takes the owner of the folder it is mounted on)
RUN minternet container prepare && chown -R minternet:minternet /var/lib/minternet
USER minternet
WORKDIR /var/lib/minternet
ENTRYPOINT ["minternet"]
CMD ["container", "--help"]
