"""Configuration: the `.env` cascade, interpolation, sources, secrets and validation.

Writes a throw-away directory of `.env` files, loads it for `production`, and shows
which file each value came from, the redacted dump, a secret read from a secrets
directory, and one validation error that reports every problem at once.
Run it with `cd examples && python config_cascade.py`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from pydantic import BaseModel, SecretStr

from infrakit.config import DirectorySecretProvider, FileSecretProvider, load_config
from infrakit.errors import ConfigurationError

FILES = {
    ".env": (
        "# shared defaults, committed\n"
        "APP_NAME=shop\n"
        "DATABASE_HOST=localhost\n"
        "DATABASE_URL=postgresql://shop@${DATABASE_HOST}:5432/shop\n"
        "DATABASE_POOL_MAX_SIZE=5\n"
        "FEATURES=search,cart\n"
    ),
    ".env.local": "FEATURES=${FEATURES},debug-toolbar\n",  # a developer's machine only
    ".env.production": "DATABASE_HOST=db.internal\nDATABASE_POOL_MAX_SIZE=20\n",
    ".env.production.local": "DATABASE_POOL_MAX_SIZE=25\n",
}


class DatabaseSettings(BaseModel):
    url: str
    host: str
    pool_max_size: int = 10
    password: SecretStr


def main() -> None:
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        for name, text in FILES.items():
            (directory / name).write_text(text, encoding="utf-8")
        secrets = directory / "secrets"
        secrets.mkdir()
        (secrets / "database_password").write_text("correct-horse-battery\n", encoding="utf-8")
        providers = [FileSecretProvider(), DirectorySecretProvider(secrets)]

        # `environ` stands for the process environment, the top of the cascade.
        environ = {"LOG_LEVEL": "DEBUG", "DATABASE_PASSWORD": "a-plain-fallback"}
        config = load_config(
            "production", directory=directory, environ=environ, secret_providers=providers
        )
        print(config)
        for key in ("APP_NAME", "DATABASE_HOST", "DATABASE_POOL_MAX_SIZE", "LOG_LEVEL"):
            print(f"  {key:<24} = {config.get_str(key):<22} from {config.source_of(key)}")
        print("  FEATURES (list)         =", config.get_list("FEATURES"))

        database = config.load(DatabaseSettings, namespace="database")
        print("DatabaseSettings:", database)  # SecretStr keeps the password out of repr
        where = config.source_of("DATABASE_PASSWORD", secret=True)
        print(f"  password comes from {where}, shown as {database.password}")
        assert database.password.get_secret_value() == "correct-horse-battery"
        assert database.pool_max_size == 25

        print("dump(redact=True):")
        for key, value in config.dump().items():
            print(f"  {key}={value}")

        broken = load_config(
            "production",
            directory=directory,
            environ={"DATABASE_POOL_MAX_SIZE": "lots", "DATABASE_POOL_MAX_SZIE": "30"},
            secret_providers=[],
        )
        try:
            broken.load(DatabaseSettings, namespace="database")
        except ConfigurationError as error:
            print("validation error, every problem at once:")
            print(error)
        else:
            raise SystemExit("expected a ConfigurationError")

        test_config = load_config("test", directory=directory, environ={}, secret_providers=[])
        print("env=test skips .env.local: FEATURES =", test_config.get_list("FEATURES"))


if __name__ == "__main__":
    main()
