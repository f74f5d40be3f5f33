"""Configuration: the `.env` cascade, typed getters, namespaces, schemas and secrets.

Only the names in `__all__` are public.
"""

from infrakit.config._cascade import ConfigSource
from infrakit.config._config import Config, load_config
from infrakit.config._protocol import ConfigReader, SecretProvider
from infrakit.config._schema import validate_config
from infrakit.config._secrets import DirectorySecretProvider, FileSecretProvider

__all__ = [
    "Config",
    "ConfigReader",
    "ConfigSource",
    "DirectorySecretProvider",
    "FileSecretProvider",
    "SecretProvider",
    "load_config",
    "validate_config",
]
