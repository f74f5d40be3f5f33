"""Secret providers: `KEY_FILE` pointers and a secrets directory, refusing symlinks and escapes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr

from infrakit.config import (
    Config,
    ConfigSource,
    DirectorySecretProvider,
    FileSecretProvider,
    SecretProvider,
    load_config,
)
from infrakit.errors import ConfigurationError

SECRET = "s3cr3t-Value-42"


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "secrets"
    directory.mkdir()
    return directory


def _bound(provider: FileSecretProvider, directory: Path, **pointers: str) -> FileSecretProvider:
    return provider.bind(pointers, directory=directory)


class TestDirectorySecretProvider:
    def test_reads_lower_case_name_first_then_as_written(self, secrets_dir: Path) -> None:
        (secrets_dir / "database_password").write_text(SECRET + "\n")
        (secrets_dir / "API_TOKEN").write_text("token\r\n")
        provider = DirectorySecretProvider(secrets_dir)
        assert isinstance(provider, SecretProvider)
        assert provider.get_secret("DATABASE_PASSWORD") == SECRET  # trailing newline removed
        assert provider.get_secret("API_TOKEN") == "token"
        assert provider.get_secret("MISSING") is None

    def test_missing_directory_provides_nothing(self, tmp_path: Path) -> None:
        assert DirectorySecretProvider(tmp_path / "nope").get_secret("A") is None

    @pytest.mark.parametrize("key", ["../etc/passwd", "a/b", ".hidden", "", "x y"])
    def test_keys_that_are_not_plain_names_are_not_supported(
        self, secrets_dir: Path, key: str
    ) -> None:
        provider = DirectorySecretProvider(secrets_dir)
        assert not provider.supports_secret(key)
        assert provider.get_secret(key) is None

    def test_symlink_is_refused(self, secrets_dir: Path, tmp_path: Path) -> None:
        outside = tmp_path / "outside"
        outside.write_text(SECRET)
        (secrets_dir / "token").symlink_to(outside)
        with pytest.raises(ConfigurationError, match="symlink") as caught:
            DirectorySecretProvider(secrets_dir).get_secret("TOKEN")
        assert SECRET not in str(caught.value)

    def test_symlink_inside_the_directory_is_refused_by_default(self, secrets_dir: Path) -> None:
        (secrets_dir / "real").write_text(SECRET)
        (secrets_dir / "token").symlink_to(secrets_dir / "real")
        with pytest.raises(ConfigurationError, match="symlink"):
            DirectorySecretProvider(secrets_dir).get_secret("token")

    def test_internal_symlinks_allowed_on_request_kubernetes_layout(
        self, secrets_dir: Path
    ) -> None:
        data = secrets_dir / "..2026_01_01"
        data.mkdir()
        (data / "token").write_text(SECRET)
        (secrets_dir / "..data").symlink_to(data.name)
        (secrets_dir / "token").symlink_to("..data/token")
        provider = DirectorySecretProvider(secrets_dir, allow_internal_symlinks=True)
        assert provider.get_secret("TOKEN") == SECRET

    def test_escaping_symlink_is_refused_even_when_internal_ones_are_allowed(
        self, secrets_dir: Path, tmp_path: Path
    ) -> None:
        (tmp_path / "outside").write_text(SECRET)
        (secrets_dir / "token").symlink_to("../outside")
        provider = DirectorySecretProvider(secrets_dir, allow_internal_symlinks=True)
        with pytest.raises(ConfigurationError, match="outside its directory"):
            provider.get_secret("token")

    def test_a_directory_is_not_a_secret(self, secrets_dir: Path) -> None:
        (secrets_dir / "token").mkdir()
        with pytest.raises(ConfigurationError, match="not a regular file"):
            DirectorySecretProvider(secrets_dir).get_secret("token")

    def test_fifo_is_refused_without_blocking(self, secrets_dir: Path) -> None:
        os.mkfifo(secrets_dir / "token")
        with pytest.raises(ConfigurationError, match="not a regular file"):
            DirectorySecretProvider(secrets_dir).get_secret("token")

    def test_huge_file_is_refused(self, secrets_dir: Path) -> None:
        with (secrets_dir / "token").open("wb") as stream:
            stream.truncate(1024 * 1024 + 1)
        with pytest.raises(ConfigurationError, match="larger than"):
            DirectorySecretProvider(secrets_dir).get_secret("token")

    def test_binary_content_is_refused_without_echo(self, secrets_dir: Path) -> None:
        (secrets_dir / "token").write_bytes(b"\xff\xfe" + SECRET.encode())
        with pytest.raises(ConfigurationError, match="UTF-8") as caught:
            DirectorySecretProvider(secrets_dir).get_secret("token")
        assert SECRET not in str(caught.value)

    def test_repr_names_the_directory(self, secrets_dir: Path) -> None:
        assert (
            repr(DirectorySecretProvider(secrets_dir)) == f"DirectorySecretProvider({secrets_dir})"
        )


class TestFileSecretProvider:
    def test_reads_the_file_the_pointer_names(self, tmp_path: Path) -> None:
        (tmp_path / "pw").write_text(SECRET + "\n\n")
        provider = _bound(
            FileSecretProvider(), tmp_path, DATABASE_PASSWORD_FILE=str(tmp_path / "pw")
        )
        assert provider.supports_secret("DATABASE_PASSWORD")
        assert provider.supports_secret("database_password")
        assert not provider.supports_secret("OTHER")
        assert provider.get_secret("DATABASE_PASSWORD") == SECRET
        assert provider.get_secret("OTHER") is None
        assert provider.pointer_keys() == frozenset({"DATABASE_PASSWORD_FILE"})

    def test_relative_pointer_is_taken_from_the_config_directory(self, tmp_path: Path) -> None:
        (tmp_path / "sub").mkdir()
        (tmp_path / "sub" / "pw").write_text(SECRET)
        provider = _bound(FileSecretProvider(), tmp_path, TOKEN_FILE="sub/pw")
        assert provider.get_secret("TOKEN") == SECRET

    def test_pointer_to_a_missing_file_is_an_error(self, tmp_path: Path) -> None:
        provider = _bound(FileSecretProvider(), tmp_path, TOKEN_FILE=str(tmp_path / "none"))
        with pytest.raises(ConfigurationError, match=r"TOKEN_FILE.*does not exist"):
            provider.get_secret("TOKEN")

    def test_empty_pointer_is_an_error(self, tmp_path: Path) -> None:
        provider = _bound(FileSecretProvider(), tmp_path, API_TOKEN_FILE=" ")
        with pytest.raises(ConfigurationError, match="Secret API_TOKEN: API_TOKEN_FILE is set"):
            provider.get_secret("API_TOKEN")

    def test_dot_dot_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "pw").write_text(SECRET)
        (tmp_path / "sub").mkdir()
        provider = _bound(
            FileSecretProvider(), tmp_path, TOKEN_FILE=str(tmp_path / "sub" / ".." / "pw")
        )
        with pytest.raises(ConfigurationError, match=r"escapes its directory"):
            provider.get_secret("TOKEN")

    def test_symlinked_file_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "pw").write_text(SECRET)
        (tmp_path / "link").symlink_to(tmp_path / "pw")
        provider = _bound(FileSecretProvider(), tmp_path, TOKEN_FILE=str(tmp_path / "link"))
        with pytest.raises(ConfigurationError, match="symlink") as caught:
            provider.get_secret("TOKEN")
        assert SECRET not in str(caught.value)

    def test_allowed_directory_accepts_files_inside(self, secrets_dir: Path) -> None:
        (secrets_dir / "sub").mkdir()
        (secrets_dir / "sub" / "pw").write_text(SECRET)
        provider = FileSecretProvider(allowed_directory=secrets_dir)
        bound = _bound(provider, Path("/"), A_FILE=str(secrets_dir / "sub" / "pw"), B_FILE="sub/pw")
        assert bound.get_secret("A") == SECRET
        assert bound.get_secret("B") == SECRET  # relative to the allowed directory

    def test_allowed_directory_refuses_files_outside(
        self, secrets_dir: Path, tmp_path: Path
    ) -> None:
        (tmp_path / "pw").write_text(SECRET)
        provider = FileSecretProvider(allowed_directory=secrets_dir)
        bound = _bound(provider, tmp_path, A_FILE=str(tmp_path / "pw"), B_FILE="../pw")
        with pytest.raises(ConfigurationError, match="is outside"):
            bound.get_secret("A")
        with pytest.raises(ConfigurationError, match="escapes"):
            bound.get_secret("B")

    def test_allowed_directory_refuses_symlinked_directories_below_it(
        self, secrets_dir: Path, tmp_path: Path
    ) -> None:
        (tmp_path / "elsewhere").mkdir()
        (tmp_path / "elsewhere" / "pw").write_text(SECRET)
        (secrets_dir / "sub").symlink_to(tmp_path / "elsewhere")
        bound = _bound(FileSecretProvider(allowed_directory=secrets_dir), tmp_path, A_FILE="sub/pw")
        with pytest.raises(ConfigurationError, match="symlink"):
            bound.get_secret("A")

    def test_allowed_directory_is_itself_not_a_secret(self, secrets_dir: Path) -> None:
        bound = _bound(
            FileSecretProvider(allowed_directory=secrets_dir), secrets_dir, A_FILE=str(secrets_dir)
        )
        with pytest.raises(ConfigurationError, match="escapes"):
            bound.get_secret("A")

    def test_unbound_provider_supports_nothing(self) -> None:
        assert not FileSecretProvider().supports_secret("A")
        assert FileSecretProvider().get_secret("A") is None


class TestGetSecret:
    def test_providers_are_asked_before_plain_values(
        self, tmp_path: Path, secrets_dir: Path
    ) -> None:
        (secrets_dir / "api_token").write_text("from-directory")
        (tmp_path / "token").write_text("from-file")
        environ = {
            "API_TOKEN": "plain",
            "API_TOKEN_FILE": str(tmp_path / "token"),
            "OTHER": "plain",
        }
        config = load_config(
            "production",
            directory=tmp_path,
            environ=environ,
            secret_providers=[FileSecretProvider(), DirectorySecretProvider(secrets_dir)],
        )
        token = config.get_secret("API_TOKEN")
        assert isinstance(token, SecretStr)
        assert token.get_secret_value() == "from-file"
        assert config.get_secret("OTHER").get_secret_value() == "plain"
        assert config.get_str("API_TOKEN") == "plain"  # plain getters never ask providers
        assert config.source_of("API_TOKEN", secret=True) == ConfigSource(
            "provider", "FileSecretProvider(any directory)"
        )
        assert config.source_of("API_TOKEN") == ConfigSource("environment", "environment")
        assert config.source_of("OTHER", secret=True) == ConfigSource("environment", "environment")

    def test_a_missing_secret_names_the_providers_asked(
        self, tmp_path: Path, secrets_dir: Path
    ) -> None:
        class Settings(BaseModel):
            password: SecretStr
            host: str

        provider = DirectorySecretProvider(secrets_dir)
        config = load_config("test", directory=tmp_path, environ={}, secret_providers=[provider])
        with pytest.raises(ConfigurationError) as caught:
            config.get_secret("DB_PASSWORD")
        assert str(caught.value).endswith(
            f"and the secret providers DirectorySecretProvider({secrets_dir})."
        )
        with pytest.raises(ConfigurationError) as caught:
            config.load(Settings, namespace="db")
        by_key = {item["key"]: item["source"] for item in caught.value.details["errors"]}
        assert by_key["DB_PASSWORD"].endswith(
            f"secret providers DirectorySecretProvider({secrets_dir})"
        )
        assert "secret providers" not in by_key["DB_HOST"]  # plain fields never ask them

    def test_source_of_a_key_only_a_provider_holds(self, tmp_path: Path) -> None:
        (tmp_path / "pw").write_text(SECRET)
        config = load_config(
            "production", directory=tmp_path, environ={"DB_PASSWORD_FILE": str(tmp_path / "pw")}
        )
        expected = ConfigSource("provider", "FileSecretProvider(any directory)")
        assert config.source_of("DB_PASSWORD") == expected
        assert str(expected) == "secret provider FileSecretProvider(any directory)"
        assert config.source_of("DB_PASSWORD_FILE") == ConfigSource("environment", "environment")
        assert config.source_of("NOT_ANYWHERE") is None

    def test_namespaced_secret(self, tmp_path: Path, secrets_dir: Path) -> None:
        (secrets_dir / "database_password").write_text(SECRET)
        config = load_config(
            "production",
            directory=tmp_path,
            environ={},
            secret_providers=[DirectorySecretProvider(secrets_dir)],
        )
        secret = config.namespace("database").get_secret("password")
        assert secret.get_secret_value() == SECRET
        assert SECRET not in repr(secret) + str(secret)

    def test_default_providers_read_file_pointers(self, tmp_path: Path) -> None:
        (tmp_path / "pw").write_text(SECRET)
        (tmp_path / ".env").write_text("DB_PASSWORD_FILE=pw\n")
        config = load_config("production", directory=tmp_path, environ={})
        assert config.get_secret("DB_PASSWORD").get_secret_value() == SECRET

    def test_a_failing_custom_provider_is_translated(self) -> None:
        class Broken:
            def supports_secret(self, key: str) -> bool:
                return True

            def get_secret(self, key: str) -> str | None:
                raise RuntimeError("vault unreachable")

        config = Config.from_mapping({}, secret_providers=[Broken()])
        with pytest.raises(
            ConfigurationError, match="Secret provider Broken failed for TOKEN"
        ) as caught:
            config.get_secret("TOKEN")
        assert isinstance(caught.value.__cause__, RuntimeError)

    def test_provider_returning_none_falls_through(self) -> None:
        class Empty:
            def supports_secret(self, key: str) -> bool:
                return True

            def get_secret(self, key: str) -> str | None:
                return None

        config = Config.from_mapping({"TOKEN": "plain"}, secret_providers=[Empty()])
        assert config.get_secret("TOKEN").get_secret_value() == "plain"
