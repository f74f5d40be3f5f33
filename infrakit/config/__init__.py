from infrakit.config._protocol import ConfigReader, SecretProvider

__all__ = ["ConfigReader", "SecretProvider"]
