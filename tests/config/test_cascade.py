"""The `.env` cascade: precedence, the test-env rule, interpolation and strict parsing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from infrakit.config import load_config
from infrakit.errors import ConfigurationError
from tests.config.conftest import WriteFiles

CASCADE = [".env.production.local", ".env.production", ".env.local", ".env"]


def _load(directory: Path, env: str | None = "production", **environ: str):  # type: ignore[no-untyped-def]
    return load_config(env, directory=directory, environ=environ, secret_providers=())


@pytest.mark.parametrize("winner", range(len(CASCADE) + 1))
def test_each_level_beats_every_level_below(write_files: WriteFiles, winner: int) -> None:
    # Levels above the winner do not define KEY; the winner and all below do.
    files = {name: f"KEY={name}\n" for name in CASCADE[max(winner - 1, 0) :]}
    directory = write_files(files)
    environ = {"KEY": "environment"} if winner == 0 else {}
    config = _load(directory, **environ)
    expected = "environment" if winner == 0 else CASCADE[winner - 1]
    assert config.get_str("KEY") == expected
    source = config.source_of("KEY")
    assert source is not None
    assert source.kind == ("environment" if winner == 0 else "file")


def test_keys_from_every_level_are_merged(write_files: WriteFiles) -> None:
    directory = write_files({name: f"FROM_{index}=yes\n" for index, name in enumerate(CASCADE)})
    config = _load(directory, FROM_ENVIRONMENT="yes")
    assert {key for key in config.dump() if key.startswith("FROM_")} == {
        "FROM_0",
        "FROM_1",
        "FROM_2",
        "FROM_3",
        "FROM_ENVIRONMENT",
    }
    assert config.files == tuple(str(directory / name) for name in CASCADE)


def test_test_env_skips_dot_env_local(write_files: WriteFiles) -> None:
    directory = write_files(
        {
            ".env": "A=base\nB=base\n",
            ".env.local": "A=local\nONLY_LOCAL=1\n",
            ".env.test": "B=test\n",
        }
    )
    config = _load(directory, env="test")
    assert config.get_str("A") == "base"
    assert config.get_str("B") == "test"
    assert not config.has("ONLY_LOCAL")
    assert str(directory / ".env.local") not in config.files


def test_test_env_still_reads_its_own_local_file(write_files: WriteFiles) -> None:
    directory = write_files({".env.test": "A=test\n", ".env.test.local": "A=test-local\n"})
    assert _load(directory, env="test").get_str("A") == "test-local"


def test_env_name_from_app_env_then_development(write_files: WriteFiles) -> None:
    directory = write_files({".env.staging": "WHERE=staging\n", ".env.development": "WHERE=dev\n"})
    assert _load(directory, env=None, APP_ENV="staging").env == "staging"
    assert _load(directory, env=None, APP_ENV="staging").get_str("WHERE") == "staging"
    assert _load(directory, env=None).env == "development"
    assert _load(directory, env=None).get_str("WHERE") == "dev"
    assert _load(directory, env="staging", APP_ENV="other").env == "staging"


@pytest.mark.parametrize("name", ["../etc", "a/b", ".hidden", ""])
def test_env_name_that_could_escape_the_directory_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigurationError, match="environment name"):
        load_config(name or "", directory=tmp_path, environ={"APP_ENV": name} if name else {})


def test_missing_files_are_fine(tmp_path: Path) -> None:
    config = _load(tmp_path, ONLY="1")
    assert config.files == ()
    assert config.dump() == {"ONLY": "1"}


def test_environ_defaults_to_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFRAKIT_CONFIG_TEST_MARKER", "present")
    config = load_config("production", directory=tmp_path, secret_providers=())
    assert config.get_str("infrakit_config_test_marker") == "present"
    monkeypatch.setenv("INFRAKIT_CONFIG_TEST_MARKER", "changed")
    assert config.get_str("INFRAKIT_CONFIG_TEST_MARKER") == "present"  # a snapshot
    assert os.environ["INFRAKIT_CONFIG_TEST_MARKER"] == "changed"


def test_keys_are_case_insensitive_and_upper_case_spelling_wins(tmp_path: Path) -> None:
    config = _load(tmp_path, path="lower", PATH="upper", Mixed="m")
    assert config.get_str("path") == "upper"
    assert config.get_str("MIXED") == config.get_str("mixed") == "m"


def test_dotenv_syntax_is_supported(write_files: WriteFiles) -> None:
    directory = write_files(
        {
            ".env": (
                "# comment\n\n"
                "export EXPORTED=1\n"
                'DOUBLE="a b # not a comment"\n'
                "SINGLE='x y'\n"
                "INLINE=value # comment\n"
                "EMPTY=\n"
                'MULTI="line1\nline2"\n'
                'ESCAPED="tab\\tend"\n'
                "DUPLICATE=first\nDUPLICATE=second\n"
            )
        }
    )
    config = _load(directory)
    assert config.get_str("EXPORTED") == "1"
    assert config.get_str("DOUBLE") == "a b # not a comment"
    assert config.get_str("SINGLE") == "x y"
    assert config.get_str("INLINE") == "value"
    assert config.get_str("EMPTY") == ""
    assert config.get_str("MULTI") == "line1\nline2"
    assert config.get_str("ESCAPED") == "tab\tend"
    assert config.get_str("DUPLICATE") == "second"
    source = config.source_of("DUPLICATE")
    assert source is not None
    assert source.line == 12  # the multi-line value spans lines 8 and 9


class TestInterpolation:
    def test_within_one_file(self, write_files: WriteFiles) -> None:
        directory = write_files({".env": "HOST=db\nURL=postgres://${HOST}:5432/app\n"})
        assert _load(directory).get_str("URL") == "postgres://db:5432/app"

    def test_a_higher_file_references_a_lower_one(self, write_files: WriteFiles) -> None:
        directory = write_files(
            {".env": "USER_NAME=app\n", ".env.production": "DSN=${USER_NAME}@prod\n"}
        )
        assert _load(directory).get_str("DSN") == "app@prod"

    def test_a_lower_file_sees_the_effective_override(self, write_files: WriteFiles) -> None:
        directory = write_files(
            {".env": "HOST=localhost\nURL=http://${HOST}/\n", ".env.production": "HOST=prod\n"}
        )
        assert _load(directory).get_str("URL") == "http://prod/"
        assert _load(directory, HOST="from-env").get_str("URL") == "http://from-env/"

    def test_reference_defined_later_in_the_file(self, write_files: WriteFiles) -> None:
        directory = write_files({".env": "URL=http://${HOST}/\nHOST=late\n"})
        assert _load(directory).get_str("URL") == "http://late/"

    def test_self_reference_extends_the_layer_below(self, write_files: WriteFiles) -> None:
        directory = write_files(
            {
                ".env": "FLAGS=a\n",
                ".env.local": "FLAGS=${FLAGS},b\n",
                ".env.production": "FLAGS=${FLAGS},c\n",
            }
        )
        assert _load(directory).get_str("FLAGS") == "a,b,c"

    def test_default_applies_when_unset_or_empty(self, write_files: WriteFiles) -> None:
        directory = write_files(
            {".env": "EMPTY=\nA=${MISSING:-fallback}\nB=${EMPTY:-fallback}\nC=${MISSING:-}\n"}
        )
        config = _load(directory)
        assert config.get_str("A") == "fallback"
        assert config.get_str("B") == "fallback"
        assert config.get_str("C") == ""

    def test_undefined_reference_names_file_line_and_variable(
        self, write_files: WriteFiles
    ) -> None:
        directory = write_files({".env": "A=1\n\nURL=http://${NOPE}/\n"})
        with pytest.raises(ConfigurationError) as caught:
            _load(directory)
        message = str(caught.value)
        assert f"{directory / '.env'} line 3" in message
        assert "${NOPE}" in message
        assert "URL" in message

    def test_empty_reference_without_default_stays_empty(self, write_files: WriteFiles) -> None:
        directory = write_files({".env": "EMPTY=\nA=x${EMPTY}y\n"})
        assert _load(directory).get_str("A") == "xy"

    def test_undefined_reference_in_a_secret_does_not_name_the_piece(
        self, write_files: WriteFiles
    ) -> None:
        directory = write_files({".env": "API_TOKEN=ab${CDEFGH}ij\n"})
        with pytest.raises(
            ConfigurationError, match=r"\.env line 1: API_TOKEN references"
        ) as caught:
            _load(directory)
        assert "CDEFGH" not in str(caught.value) + repr(caught.value.details)

    @pytest.mark.parametrize("value", ["${", "x${HOST", "${HOST:x}", '"${HOST"'])
    def test_malformed_reference_is_an_error(self, write_files: WriteFiles, value: str) -> None:
        directory = write_files({".env": f"HOST=db\nURL={value}\n"})
        with pytest.raises(ConfigurationError, match=r"\.env line 2: URL has a '\$\{'"):
            _load(directory)
        directory = write_files({".env": f"HOST=db\nURL='{value}'\n"})
        assert _load(directory).get_str("URL") == value  # single quotes keep it literal

    def test_cycle_is_an_error(self, write_files: WriteFiles) -> None:
        directory = write_files({".env": "A=${B}\nB=${A}\n"})
        with pytest.raises(ConfigurationError, match="cycle"):
            _load(directory)

    def test_single_quoted_values_are_literal(self, write_files: WriteFiles) -> None:
        directory = write_files({".env": "HOST=db\nRAW='${HOST}'\nCOOKED=\"${HOST}\"\n"})
        config = _load(directory)
        assert config.get_str("RAW") == "${HOST}"
        assert config.get_str("COOKED") == "db"

    def test_environment_values_are_never_expanded(self, write_files: WriteFiles) -> None:
        directory = write_files({".env": "HOST=db\n"})
        assert _load(directory, RAW="${HOST}").get_str("RAW") == "${HOST}"

    def test_references_are_case_insensitive(self, write_files: WriteFiles) -> None:
        directory = write_files({".env": "host=db\nURL=${HOST}-${host}\n"})
        assert _load(directory).get_str("URL") == "db-db"


class TestMalformedFiles:
    @pytest.mark.parametrize(
        "bad_line",
        ['BROKEN="never closed', "NO SPACES=allowed", "=value", "'unclosed=key"],
    )
    def test_malformed_line_names_file_and_line(
        self, write_files: WriteFiles, bad_line: str
    ) -> None:
        directory = write_files({".env.production": f"# header\n\nGOOD=1\n{bad_line}\nLATER=2\n"})
        with pytest.raises(ConfigurationError) as caught:
            _load(directory)
        assert f"{directory / '.env.production'} line 4" in str(caught.value)
        assert caught.value.details["line"] == 4

    def test_line_without_equals_sign_is_an_error_that_does_not_echo_it(
        self, write_files: WriteFiles
    ) -> None:
        # A value pasted on the line after its key is indistinguishable from a key.
        directory = write_files({".env": "PASSWORD=\nhunter2secret\n"})
        with pytest.raises(ConfigurationError, match=r"line 2 has no '='") as caught:
            _load(directory)
        assert "hunter2" not in str(caught.value) + repr(caught.value.details)

    def test_crlf_line_numbers(self, write_files: WriteFiles) -> None:
        directory = write_files({".env": "A=1\r\n\r\nB C\r\n"})
        with pytest.raises(ConfigurationError, match="line 3"):
            _load(directory)

    def test_malformed_value_is_not_echoed(self, write_files: WriteFiles) -> None:
        directory = write_files({".env": 'PASSWORD="hunter2-very-secret\n'})
        with pytest.raises(ConfigurationError) as caught:
            _load(directory)
        assert "hunter2" not in str(caught.value)
        assert "hunter2" not in repr(caught.value.details)

    def test_unreadable_file_is_an_error(self, tmp_path: Path) -> None:
        (tmp_path / ".env.local").mkdir()
        with pytest.raises(ConfigurationError, match=r"Cannot read .*\.env\.local"):
            _load(tmp_path)

    def test_invalid_utf8_names_the_line(self, tmp_path: Path) -> None:
        (tmp_path / ".env").write_bytes(b"A=1\nB=2\nC=\xff\xfe\n")
        with pytest.raises(ConfigurationError, match=r"\.env line 3: not valid UTF-8"):
            _load(tmp_path)

    def test_byte_order_mark_is_accepted(self, tmp_path: Path) -> None:
        (tmp_path / ".env").write_bytes(b"\xef\xbb\xbfA=1\n")
        assert _load(tmp_path).get_str("A") == "1"


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_config("production", directory=tmp_path / "typo", environ={})


def test_invalid_utf8_far_into_a_large_file_names_the_right_line(tmp_path: Path) -> None:
    lines = b"".join(b"KEY_%d=%s\n" % (number, b"x" * 100) for number in range(500))
    (tmp_path / ".env").write_bytes(lines + b"BAD=\xff\n")
    with pytest.raises(ConfigurationError, match=r"\.env line 501: not valid UTF-8"):
        _load(tmp_path)
