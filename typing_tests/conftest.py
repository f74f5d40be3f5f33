"""The files here are type-checked by mypy (`make typecheck`), never run by pytest."""

collect_ignore_glob = ["*.py"]
