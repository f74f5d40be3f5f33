"""`python -m infrakit.server module:app [options]`: the same as `infrakit serve`."""

from __future__ import annotations

import sys

from infrakit.server._cli import serve_main

if __name__ == "__main__":
    sys.exit(serve_main(sys.argv[1:]))
