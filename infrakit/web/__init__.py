"""The web integration layer: a request context on every request, and framework errors as
RFC 9457 problems. Framework-free here; `infrakit.web.starlette` and `infrakit.web.flask`
wire it into those frameworks (each imported only when you import it).

Unlike the other modules, `infrakit.web` imports `infrakit.log` and `infrakit.errors`:
it is the integration layer that joins them. Only the names in `__all__` are public;
see `docs/web.md`.
"""

from infrakit.web._asgi import RequestContextMiddleware
from infrakit.web._http_error import HTTPError, http_error_code
from infrakit.web._wsgi import WSGIRequestContextMiddleware

__all__ = [
    "HTTPError",
    "RequestContextMiddleware",
    "WSGIRequestContextMiddleware",
    "http_error_code",
]
