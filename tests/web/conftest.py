from tests.web.helpers import collected

__all__ = ["collected"]
