from infrakit.log._protocol import Logger

__all__ = ["Logger"]
