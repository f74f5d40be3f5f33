"""An `Infra` factory for `infrakit serve --infra tests.server.infra_factory:make_infra`."""

from __future__ import annotations

import tempfile

from infrakit import Infra
from infrakit.config import load_config


def make_infra() -> Infra:
    config = load_config("test", directory=tempfile.mkdtemp(), environ={})
    return Infra.builder().with_config(config).with_cache().with_pubsub().build()
