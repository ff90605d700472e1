"""The compose test runs only from `make test-compose` (which brings the Docker engine, Compose
and a base image first: tools/compose-env), not in `make test`: it builds images and starts
containers, minutes of work that `make test` leaves to it."""

import os

if os.environ.get("MINTERNET_COMPOSE_TEST") != "1":
    collect_ignore_glob = ["test_*.py"]
