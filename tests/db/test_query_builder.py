"""The builder renders pypika SQL with every value as a parameter, and validates names."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infrakit.db import Database, InvalidDataError, QueryBuilder
from infrakit.errors import ValidationError

from .conftest import TableFactory

HOSTILE = [
    "x' OR 1=1 --",
    "100%",
    "%s",
    "%(p0)s",
    "%%",
    "back\\slash\\",
    "'; DROP TABLE users; --",
    'double "quotes"',
    "unicode: żółć 漢字 🎉",
    "$1 $$dollar$$",
]


def builder(table: str = "users") -> QueryBuilder:
    # to_sql() needs no connection: a closed Database is enough as the executor.
    return Database("postgresql://nobody@127.0.0.1:1/none").query_builder(table)


def test_fluent_select_renders_parameters_in_order() -> None:
    query = (
        builder()
        .select(["id", "name", "email"])
        .where("active = %s", True)
        .where(role="admin", deleted_at=None)
        .where_in("team", ["a", "b"])
        .order_by("created_at", "DESC")
        .limit(10)
        .offset(20)
    )
    sql, params = query.to_sql()
    assert sql == (
        'SELECT "id","name","email" FROM "users" WHERE (active = %s) AND "role"=%s '
        'AND "deleted_at" IS NULL AND "team" IN (%s,%s) ORDER BY "created_at" DESC '
        "LIMIT %s OFFSET %s"
    )
    assert params == (True, "admin", "a", "b", 10, 20)


@pytest.mark.parametrize("value", HOSTILE)
def test_values_never_appear_in_the_sql(value: str) -> None:
    sql, params = builder().where("name = %s", value).where(email=value).to_sql()
    assert value not in sql or value in {"%s", "%%"}
    assert params == (value, value)
    sql, params = (
        builder().insert({"name": value}).on_conflict("id", update={"name": value}).to_sql()
    )
    assert (
        sql == 'INSERT INTO "users" ("name") VALUES (%s) ON CONFLICT ("id") DO UPDATE SET "name"=%s'
    )
    assert params == (value, value)


def test_update_delete_returning_and_join() -> None:
    sql, params = builder().update({"name": "n"}).where(id=3).returning("id").to_sql()
    assert sql == 'UPDATE "users" SET "name"=%s WHERE "id"=%s RETURNING "users"."id"'
    assert params == ("n", 3)
    sql, params = builder().delete().where("id < %s", 5).to_sql()
    assert (sql, params) == ('DELETE FROM "users" WHERE (id < %s)', (5,))
    sql, _ = (
        builder()
        .select(["users.id", "orders.total"])
        .join("orders", "orders.user_id", "users.id", kind="left")
        .to_sql()
    )
    assert sql == (
        'SELECT "users"."id","orders"."total" FROM "users" '
        'LEFT JOIN "orders" ON "orders"."user_id"="users"."id"'
    )


def test_literal_percent_in_a_fragment_is_kept_escaped() -> None:
    sql, params = builder().where("name LIKE 'a%%' AND id = %s", 1).to_sql()
    assert sql.endswith("WHERE (name LIKE 'a%%' AND id = %s)")
    assert params == (1,)


@pytest.mark.parametrize(
    "make",
    [
        lambda: builder().order_by("id", "DESC; DROP TABLE users"),
        lambda: builder().order_by("id; DROP TABLE users"),
        lambda: builder().select(["name FROM secrets --"]),
        lambda: builder('users"; --'),
        lambda: builder().where(**{"a b": 1}),
        lambda: builder().where_in('x"y', [1]),
        lambda: builder().limit(-1),
        lambda: builder().limit(True),
        lambda: builder().offset("5"),  # type: ignore[arg-type]
        lambda: builder().join("orders", "orders.user_id", "1=1"),
        lambda: builder().insert({}),
        lambda: builder().insert([{"a": 1}, {"b": 2}]),
        lambda: builder().returning("id, secret"),
        lambda: builder().where("a = %s AND b = %s", 1).to_sql(),
        lambda: builder().where("a = %s", 1, 2).to_sql(),
        lambda: builder().where("a LIKE '5%'").to_sql(),
        lambda: builder().delete().to_sql(),
        lambda: builder().update({"a": 1}).to_sql(),
        lambda: builder().where_in("a", "abc"),
        lambda: builder().where(5),  # type: ignore[arg-type]
        lambda: builder().insert({"a": 1}).on_conflict(update=["a"]),
        lambda: builder().insert({"a": 1}).on_conflict("a", update={}),
        lambda: builder().insert({"a": 1}).on_conflict("a", update=[]),
        # A clause the statement cannot honour is refused, never silently dropped.
        lambda: builder().delete().where(a=1).limit(1).to_sql(),
        lambda: builder().update({"a": 1}).where(a=1).order_by("a").to_sql(),
        lambda: builder().update({"a": 1}).where(a=1).offset(2).to_sql(),
        lambda: builder().delete().where(a=1).join("o", "o.a", "users.a").to_sql(),
        lambda: builder().insert({"a": 1}).where(a=1).to_sql(),
        lambda: builder().select().on_conflict("a").to_sql(),
        lambda: builder().select().returning("a").to_sql(),
    ],
)
def test_bad_identifiers_directions_and_shapes_are_validation_errors(make: object) -> None:
    with pytest.raises(ValidationError) as caught:
        make()  # type: ignore[operator]
    problem = caught.value.to_problem()
    assert problem["status"] == 422
    assert "DROP" not in str(problem)
    assert "secret" not in str(problem)


def test_builders_are_immutable() -> None:
    base = builder().where(active=True)
    first = base.where(id=1)
    assert base.to_sql()[1] == (True,)
    assert first.to_sql()[1] == (True, 1)


def test_delete_all_rows_must_be_explicit() -> None:
    assert builder().delete(all_rows=True).to_sql() == ('DELETE FROM "users"', ())


pytestmark_db = pytest.mark.postgres


@pytestmark_db
@pytest.mark.parametrize("value", HOSTILE)
async def test_hostile_text_round_trips_as_data(
    db: Database, make_table: TableFactory, value: str
) -> None:
    table = await make_table("id serial PRIMARY KEY, name text, note text")
    users = db.query_builder(table)
    inserted = await users.insert({"name": value}).returning("id").get_one()
    assert inserted is not None
    row = await users.select(["name"]).where(name=value).get_one()
    assert row == {"name": value}
    assert await users.where("name = %s", value).count() == 1
    assert await users.where_in("name", [value, "other"]).count() == 1
    upsert = users.insert({"id": inserted["id"], "name": "x"}).on_conflict(
        "id", update={"note": value}
    )
    assert await upsert.returning("name", "note").get_one() == {"name": value, "note": value}
    assert await users.update({"name": value + value}).where(id=inserted["id"]).execute() == 1
    assert await db.fetch_value(f"SELECT name || note FROM {table}") == value * 3
    assert await db.fetch_value(f"SELECT count(*) FROM {table}") == 1


@pytestmark_db
async def test_nul_round_trips_in_bytea_and_is_a_clean_error_in_text(
    db: Database, make_table: TableFactory
) -> None:
    table = await make_table("id serial PRIMARY KEY, name text, data bytea")
    rows = db.query_builder(table)
    await rows.insert({"data": b"a\x00b\\c%"}).execute()
    assert await rows.select(["data"]).get_one() == {"data": b"a\x00b\\c%"}
    with pytest.raises(InvalidDataError) as caught:
        await rows.insert({"name": "a\x00secret"}).execute()
    assert "NUL" in caught.value.message
    assert "secret" not in str(caught.value.to_problem())
    with pytest.raises(InvalidDataError, match="surrogate"):
        await rows.insert({"name": "lone \ud800 surrogate"}).execute()


@pytestmark_db
async def test_get_many_count_exists_update_delete(db: Database, make_table: TableFactory) -> None:
    table = await make_table("id serial PRIMARY KEY, name text UNIQUE, score int")
    rows = db.query_builder(table)
    assert await rows.insert([{"name": f"n{i}", "score": i} for i in range(5)]).execute() == 5
    names = await rows.select(["name"]).where("score >= %s", 2).order_by("score", "desc").get_many()
    assert names == [{"name": "n4"}, {"name": "n3"}, {"name": "n2"}]
    assert await rows.where_in("score", [1, 3, 99]).count() == 2
    assert await rows.where_in("score", []).count() == 0
    assert await rows.where(name="n1").exists()
    assert not await rows.where(name="missing").exists()
    assert await rows.update({"score": 10}).where(name="n0").execute() == 1
    upserted = await (
        rows.insert({"name": "n0", "score": 1})
        .on_conflict("name", update=["score"])
        .returning("score")
        .get_one()
    )
    assert upserted == {"score": 1}
    skipped = await rows.insert({"name": "n0", "score": 5}).on_conflict("name").execute()
    assert skipped == 0
    assert await rows.delete().where("score > %s", 3).execute() == 1
    page = await rows.select(["name"]).order_by("name").limit(2).offset(1).get_many()
    assert page == [{"name": "n1"}, {"name": "n2"}]
    # Reading methods never run a write they were chained onto.
    with pytest.raises(ValidationError):
        await rows.update({"score": 0}).where(name="n1").count()
    with pytest.raises(ValidationError):
        await rows.delete().where(name="n1").exists()
    with pytest.raises(ValidationError):
        await rows.insert({"name": "new"}).count()
    assert await rows.where(name="n1").count() == 1
    assert await rows.where(name="new").count() == 0


@pytestmark_db
async def test_arbitrary_text_round_trips(db: Database, make_table: TableFactory) -> None:
    """Hypothesis drives from a worker thread; each example runs on this test's loop."""
    table = await make_table("id serial PRIMARY KEY, name text")
    rows = db.query_builder(table)
    loop = asyncio.get_running_loop()

    async def round_trip(value: str) -> None:
        inserted = await rows.insert({"name": value}).returning("id").get_one()
        assert inserted is not None
        found = await rows.select(["name"]).where(id=inserted["id"]).get_one()
        assert found == {"name": value}
        assert await rows.where(name=value).exists()

    @settings(max_examples=150, deadline=None)
    @given(
        st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]))
    )
    def check(value: str) -> None:
        asyncio.run_coroutine_threadsafe(round_trip(value), loop).result(timeout=30)

    await asyncio.to_thread(check)
    assert await rows.count() >= 1


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        ("email", 'DO UPDATE SET "email"=EXCLUDED."email"'),
        (["email"], 'DO UPDATE SET "email"=EXCLUDED."email"'),
        (("email", "name"), 'DO UPDATE SET "email"=EXCLUDED."email","name"=EXCLUDED."name"'),
    ],
)
def test_on_conflict_update_takes_a_string_as_one_column(
    update: str | list[str] | tuple[str, ...], expected: str
) -> None:
    sql, _ = (
        builder().insert({"name": "n", "email": "e"}).on_conflict("name", update=update).to_sql()
    )
    assert sql.endswith(f'ON CONFLICT ("name") {expected}')


@pytest.mark.parametrize(
    ("column", "rendered"),
    [
        ("orders.total", '"orders"."total"'),
        ("app.orders.total", '"app"."orders"."total"'),
        ("users.id", '"users"."id"'),
        ("id", '"id"'),
    ],
)
def test_select_and_order_by_keep_their_qualifiers(column: str, rendered: str) -> None:
    sql, _ = builder("app.users").select([column]).order_by(column, "DESC").to_sql()
    assert sql == f'SELECT {rendered} FROM "app"."users" ORDER BY {rendered} DESC'
    sql, params = builder().where(**{column: 1}).where_in(column, [2]).to_sql()
    assert sql == f'SELECT * FROM "users" WHERE {rendered}=%s AND {rendered} IN (%s)'
    assert params == (1, 2)


@pytest.mark.parametrize(
    ("make", "pointer"),
    [
        (lambda: builder().order_by("a b"), "#/order_by"),
        (lambda: builder().order_by("a", "sideways"), "#/order_by"),
        (lambda: builder().select(["a.b.c.d"]), "#/select"),
        (lambda: builder().limit(-1), "#/limit"),
        (lambda: builder().insert({"a": 1}).on_conflict("a", update="b c"), "#/on_conflict"),
        (lambda: builder().insert({"a": 1}).on_conflict("a", update=""), "#/on_conflict"),
        (lambda: builder().delete().to_sql(), "#/delete"),
        (lambda: builder().update({"a": 1}).where(a=1).limit(1).to_sql(), "#/limit"),
        (lambda: builder().where("a = %s").to_sql(), "#/where"),
    ],
)
def test_validation_pointers_use_the_shared_format(make: object, pointer: str) -> None:
    with pytest.raises(ValidationError) as caught:
        make()  # type: ignore[operator]
    assert [item["pointer"] for item in caught.value.errors] == [pointer]
