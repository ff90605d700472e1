"""Suite-wide settings: hypothesis profiles.

CI (the `CI` environment variable is set) runs hypothesis derandomized, so a submission's run
is repeatable and a failure can be reproduced; every profile drops the per-example deadline,
because timing on a shared 2-core machine says nothing about correctness. Locally, examples
are random and the example database keeps what failed.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, database=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
