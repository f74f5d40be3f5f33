"""Validation problems name each field by JSON pointer and never echo a rejected value."""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any, Literal

import pydantic
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from infrakit.errors import DomainValidationError, FieldError, ValidationError, problem_response

SECRET = "hunter2-Sup3rS3cret"


class Address(pydantic.BaseModel):
    city: str
    zip_code: str = pydantic.Field(pattern=r"^\d{5}$")


class Signup(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    email: str
    password: str = pydantic.Field(min_length=30)
    age: int = pydantic.Field(ge=18)
    role: Literal["admin", "user"]
    token: uuid.UUID
    born: datetime.date
    address: Address
    tags: list[int]

    @pydantic.field_validator("email")
    @classmethod
    def email_has_at(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError(f"{value} is not an e-mail address")
        return value


def rejected(data: dict[str, Any]) -> pydantic.ValidationError:
    with pytest.raises(pydantic.ValidationError) as caught:
        Signup.model_validate(data)
    return caught.value


BAD_SIGNUP = {
    "email": SECRET,
    "password": SECRET,
    "age": SECRET,
    "role": SECRET,
    "token": SECRET,
    "born": SECRET,
    "address": {"city": "Lyon", "zip_code": SECRET},
    "tags": [SECRET.encode(), 1],
    "unexpected": SECRET,
}


def test_no_rejected_value_anywhere_in_the_problem() -> None:
    error = ValidationError.from_pydantic(rejected(BAD_SIGNUP))
    assert SECRET in str(error.__cause__)  # pydantic's own text does carry it...
    problem = error.to_problem("/signup")
    body = problem_response(error, instance="/signup").body.decode()
    assert SECRET not in json.dumps(problem)  # ...ours never does
    assert SECRET not in body
    assert SECRET not in str(error)
    assert SECRET not in repr(error)
    assert "S3cret" not in body
    assert "hunter2" not in body


def test_one_field_error_per_problem_with_pointers() -> None:
    error = ValidationError.from_pydantic(rejected(BAD_SIGNUP))
    pointers = [item["pointer"] for item in error.errors]
    assert pointers == [
        "#/email",
        "#/password",
        "#/age",
        "#/role",
        "#/token",
        "#/born",
        "#/address/zip_code",
        "#/tags/0",
        "#/unexpected",
    ]
    problem = error.to_problem()
    assert problem["status"] == 422
    assert problem["code"] == "VALIDATION_ERROR"
    assert problem["errors"] == [dict(item) for item in error.errors]
    assert all(set(item) == {"pointer", "detail"} for item in problem["errors"])


def test_useful_messages_survive() -> None:
    details = {
        item["pointer"]: item["detail"]
        for item in ValidationError.from_pydantic(rejected(BAD_SIGNUP)).errors
    }
    assert details["#/email"] == "Value error"  # the validator quoted the value: cut
    assert details["#/password"] == "String should have at least 30 characters"
    assert details["#/role"] == "Input should be 'admin' or 'user'"
    assert details["#/token"] == "Input should be a valid UUID"  # parser diagnostic cut
    assert (
        details["#/age"] == "Input should be a valid integer, unable to parse string as an integer"
    )
    assert details["#/unexpected"] == "Extra inputs are not permitted"


def test_validator_message_without_the_value_is_kept() -> None:
    data = {**BAD_SIGNUP, "email": "plainaddress.example"}
    data["email"] = "x"
    details = {
        item["pointer"]: item["detail"]
        for item in ValidationError.from_pydantic(rejected(data)).errors
    }
    # "x" appears as a word in "x is not an e-mail address": cut, even for one character
    assert details["#/email"] == "Value error"

    class Checked(pydantic.BaseModel):
        password: str

        @pydantic.field_validator("password")
        @classmethod
        def strong(cls, value: str) -> str:
            raise ValueError("must contain a digit")

    with pytest.raises(pydantic.ValidationError) as caught:
        Checked(password="abcdefgh")
    (item,) = ValidationError.from_pydantic(caught.value).errors
    assert item == FieldError(pointer="#/password", detail="Value error, must contain a digit")


def test_short_numbers_are_matched_as_whole_words_only() -> None:
    class Adult(pydantic.BaseModel):
        age: int

        @pydantic.field_validator("age")
        @classmethod
        def adult(cls, value: int) -> int:
            raise ValueError("must be at least 18")

    with pytest.raises(pydantic.ValidationError) as caught:
        Adult(age=1)
    (item,) = ValidationError.from_pydantic(caught.value).errors
    assert item["detail"] == "Value error, must be at least 18"
    with pytest.raises(pydantic.ValidationError) as caught:
        Adult(age=18)
    (item,) = ValidationError.from_pydantic(caught.value).errors
    assert item["detail"] == "Value error"


def test_assert_in_a_validator_is_cut_when_it_quotes_the_value() -> None:
    class Pin(pydantic.BaseModel):
        pin: str

        @pydantic.field_validator("pin")
        @classmethod
        def four_digits(cls, value: str) -> str:
            assert value.isdigit(), f"pin {value} has letters"
            return value

    with pytest.raises(pydantic.ValidationError) as caught:
        Pin(pin="12ab34")
    (item,) = ValidationError.from_pydantic(caught.value).errors
    assert item["detail"] == "Assertion failed"


def test_pointer_escapes_per_rfc_6901_and_3986() -> None:
    class Loose(pydantic.BaseModel):
        values: dict[str, int]

    with pytest.raises(pydantic.ValidationError) as caught:
        Loose.model_validate({"values": {"a/b~c d": "x"}})
    (item,) = ValidationError.from_pydantic(caught.value).errors
    assert item["pointer"] == "#/values/a~1b~0c%20d"


def test_model_level_error_points_at_the_root() -> None:
    class Pair(pydantic.BaseModel):
        low: int
        high: int

        @pydantic.model_validator(mode="after")
        def ordered(self) -> Pair:
            raise ValueError("low must not exceed high")

    with pytest.raises(pydantic.ValidationError) as caught:
        Pair(low=2, high=1)
    (item,) = ValidationError.from_pydantic(caught.value).errors
    assert item == FieldError(pointer="#", detail="Value error, low must not exceed high")


def test_domain_validation_error_and_custom_message() -> None:
    error = DomainValidationError.from_pydantic(rejected(BAD_SIGNUP), "Signup rejected.")
    assert isinstance(error, DomainValidationError)
    assert error.to_problem()["detail"] == "Signup rejected."
    assert isinstance(error.__cause__, pydantic.ValidationError)


def test_errors_without_arguments_are_accepted() -> None:
    class FrameworkError(Exception):
        """Like FastAPI's RequestValidationError: errors() takes no arguments."""

        def errors(self) -> list[dict[str, Any]]:
            return [
                {
                    "loc": ("body", "card"),
                    "msg": f"Value error, card {SECRET} expired",
                    "type": "value_error",
                    "input": SECRET,
                    "ctx": {"error": ValueError(f"card {SECRET} expired")},
                }
            ]

    (item,) = ValidationError.from_pydantic(FrameworkError()).errors
    assert item == FieldError(pointer="#/body/card", detail="Value error")


def test_field_errors_hidden_when_the_status_is_internal() -> None:
    fields = [FieldError(pointer="#/dsn", detail="bad host")]
    problem = ValidationError(errors=fields, status_code=500).to_problem()
    assert "errors" not in problem
    assert ValidationError(errors=fields, status_code=500).to_problem(expose_internal=True)[
        "errors"
    ] == [dict(field) for field in fields]


def test_huge_nested_input_is_scanned_in_bounded_time() -> None:
    class CountingList(list[Any]):
        walks = 0

        def __iter__(self) -> Any:
            CountingList.walks += 1
            return super().__iter__()

    class Deep(pydantic.BaseModel):
        grid: int

    leaves = CountingList(["x" * 10] * 50)
    nested = CountingList([CountingList([CountingList([leaves] * 50)] * 50)] * 50)
    with pytest.raises(pydantic.ValidationError) as caught:
        Deep.model_validate({"grid": nested})  # 6 million leaves if walked fully
    (item,) = ValidationError.from_pydantic(caught.value).errors
    assert item == FieldError(pointer="#/grid", detail="Input should be a valid integer")
    assert CountingList.walks < 20


def test_manual_field_errors() -> None:
    error = ValidationError(errors=[FieldError(pointer="#/name", detail="is required")])
    assert error.to_problem()["errors"] == [{"pointer": "#/name", "detail": "is required"}]
    assert error.to_problem()["detail"] == "The input is not valid."


@given(
    value=st.text(
        alphabet=st.characters(categories=("L", "N"), max_codepoint=0x24F), min_size=4, max_size=40
    )
)
def test_validator_echo_never_reaches_the_problem(value: str) -> None:
    class Echo(pydantic.BaseModel):
        field: str

        @pydantic.field_validator("field")
        @classmethod
        def refuse(cls, candidate: str) -> str:
            raise ValueError(f"refused {candidate}!")

    with pytest.raises(pydantic.ValidationError) as caught:
        Echo(field=value)
    problem = ValidationError.from_pydantic(caught.value).to_problem()
    # the validator's message always quotes the value, so only the fixed part may remain
    assert problem["errors"] == [{"pointer": "#/field", "detail": "Value error"}]
    assert f"refused {value}" not in json.dumps(problem, ensure_ascii=False)


def details_of(model: type[pydantic.BaseModel], data: Any, *, json_text: bool = False) -> Any:
    validate = model.model_validate_json if json_text else model.model_validate
    with pytest.raises(pydantic.ValidationError) as caught:
        validate(data)
    error = ValidationError.from_pydantic(caught.value)
    body = problem_response(error).body.decode()
    return error, body


class Quoting(pydantic.BaseModel):
    """Validators that quote their input whole, in part, transformed or escaped."""

    whole: str = "ok"
    domain: str = "a@ok.org"
    shouted: str = "ok"
    escaped: str = "ok"
    prefix: str = "ok"

    @pydantic.field_validator("whole")
    @classmethod
    def refuse_whole(cls, value: str) -> str:
        raise ValueError(f"{value} is taken")

    @pydantic.field_validator("domain")
    @classmethod
    def refuse_domain(cls, value: str) -> str:
        raise ValueError(f"domain {value.split('@')[1]} is not allowed")

    @pydantic.field_validator("shouted")
    @classmethod
    def refuse_shouted(cls, value: str) -> str:
        raise ValueError(f"{value.upper()} is reserved")

    @pydantic.field_validator("escaped")
    @classmethod
    def refuse_escaped(cls, value: str) -> str:
        raise ValueError(f"bad name {value!r}")

    @pydantic.field_validator("prefix")
    @classmethod
    def refuse_prefix(cls, value: str) -> str:
        raise ValueError(f"must not start with {value[:1]!r}")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("whole", SECRET),
        ("domain", "someone@hunter2corp.example"),
        ("shouted", "hunter2corp"),
        ("escaped", "hunter2\ncorp"),
        ("prefix", "#hunter2"),
    ],
)
def test_validator_messages_quoting_any_part_of_the_input_are_cut(field: str, value: str) -> None:
    error, body = details_of(Quoting, {field: value})
    (item,) = [item for item in error.errors if item["pointer"] == f"#/{field}"]
    assert item["detail"] == "Value error"
    for fragment in ("hunter2", "HUNTER2", "corp", "#"):
        assert fragment not in item["detail"]
    assert "hunter2" not in body.casefold()


def test_custom_error_types_are_treated_as_application_messages() -> None:
    import pydantic_core

    class Coupon(pydantic.BaseModel):
        code: str
        count: int = 0

        @pydantic.field_validator("code")
        @classmethod
        def known(cls, value: str) -> str:
            raise pydantic_core.PydanticCustomError(
                "coupon", "coupon {code} expired", {"code": value}
            )

        @pydantic.field_validator("count")
        @classmethod
        def small(cls, value: int) -> int:
            raise pydantic_core.PydanticCustomError("too_many", "at most 3 coupons")

    error, body = details_of(Coupon, {"code": SECRET, "count": 9})
    assert [item["detail"] for item in error.errors] == ["Invalid value.", "at most 3 coupons"]
    assert SECRET not in body


def test_schema_messages_are_kept_and_parser_diagnostics_cut() -> None:
    class Tagged(pydantic.BaseModel):
        kind: Literal["cat"]

    class Other(pydantic.BaseModel):
        kind: Literal["dog"]

    class Form(pydantic.BaseModel):
        zip_code: str = pydantic.Field(pattern=r"^\d{5}$")
        role: Literal["admin", "user"]
        site: pydantic.HttpUrl
        token: uuid.UUID
        born: datetime.date
        level: int = pydantic.Field(gt=18)
        pet: Tagged | Other = pydantic.Field(discriminator="kind")

    error, body = details_of(
        Form,
        {
            "zip_code": "hunter2",
            "role": "hunter2",
            "site": "http://hunter2 corp/",
            "token": "hunter2",
            "born": "hunter2",
            "level": 18,
            "pet": {"kind": "hunter2"},
        },
    )
    assert {item["pointer"]: item["detail"] for item in error.errors} == {
        "#/zip_code": "String should match pattern '^\\d{5}$'",
        "#/role": "Input should be 'admin' or 'user'",
        "#/site": "Input should be a valid URL",
        "#/token": "Input should be a valid UUID",
        "#/born": "Input should be a valid date or datetime",
        "#/level": "Input should be greater than 18",  # the schema's 18, kept
        "#/pet": (
            "Input tag found using 'kind' does not match any of the expected tags: 'cat', 'dog'"
        ),
    }
    assert "hunter2" not in body


@pytest.mark.parametrize(
    "text", ['{"email": ', '{"email": "a@b.c",}', "not json at all hunter2", "[1, 2", "\x00"]
)
def test_malformed_json_gets_a_pointer_free_error(text: str) -> None:
    class Body(pydantic.BaseModel):
        email: str

    error, body = details_of(Body, text, json_text=True)
    assert error.errors == ()
    problem = json.loads(body)
    assert (problem["status"], problem["detail"], problem["errors"]) == (
        422,
        "The body is not valid JSON.",
        [],
    )
    for leak in ("line", "column", "hunter2", "EOF"):
        assert leak not in body


def test_framework_json_errors_with_a_character_offset_get_no_pointer() -> None:
    class FrameworkError(Exception):
        """FastAPI's RequestValidationError for a malformed body: loc is an offset."""

        def errors(self) -> list[dict[str, Any]]:
            return [
                {
                    "type": "json_invalid",
                    "loc": ("body", 17),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": "Expecting ',' delimiter"},
                }
            ]

    error = ValidationError.from_pydantic(FrameworkError())
    assert error.errors == ()
    assert error.to_problem()["detail"] == "The body is not valid JSON."
    assert ValidationError.from_pydantic(FrameworkError(), "Bad body.").message == "Bad body."


@pytest.mark.parametrize(
    ("location", "pointer"),
    [
        (("body", "email"), "#/body/email"),
        (("items", 0, "name"), "#/items/0/name"),
        (("a~b",), "#/a~0b"),
        (("a/b",), "#/a~1b"),
        (("~/",), "#/~0~1"),
        (("~1",), "#/~01"),
        (("",), "#/"),
        ((), "#"),
        (("é",), "#/%C3%A9"),
        (("a#b", "c%d"), "#/a%23b/c%25d"),
    ],
)
def test_json_pointer_is_rfc_6901_in_fragment_form(location: Any, pointer: str) -> None:
    from infrakit.errors import json_pointer

    assert json_pointer(location) == pointer


def test_pydantic_locations_with_special_keys_use_the_same_pointer() -> None:
    class Loose(pydantic.BaseModel):
        values: dict[str, int]

    error, _ = details_of(Loose, {"values": {"~1": "x", "a/b": "y"}})
    assert [item["pointer"] for item in error.errors] == ["#/values/~01", "#/values/a~1b"]


@given(
    value=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=8, max_size=40),
    start=st.integers(min_value=0, max_value=30),
    length=st.integers(min_value=3, max_value=12),
    separator=st.sampled_from(["@", ".", "-", "/", " "]),
)
def test_a_validator_quoting_any_slice_of_the_input_is_cut(
    value: str, start: int, length: int, separator: str
) -> None:
    text = f"someone{separator}{value}"
    part = value[start : start + length]
    assume(len(part) >= 3)

    class Sliced(pydantic.BaseModel):
        field: str

        @pydantic.field_validator("field")
        @classmethod
        def refuse(cls, candidate: str) -> str:
            raise ValueError(f"the part {part} is not allowed")

    with pytest.raises(pydantic.ValidationError) as caught:
        Sliced(field=text)
    (item,) = ValidationError.from_pydantic(caught.value).errors
    assert item["detail"] == "Value error"
