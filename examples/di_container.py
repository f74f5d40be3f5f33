"""infrakit.di in one screen: interfaces, injection, async resources, health and shutdown.

Run: `cd examples && python di_container.py`
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import NewType, Protocol

from infrakit.di import NotRegisteredError, Scope, create_container

DatabaseUrl = NewType("DatabaseUrl", str)  # a primitive gets its own key with NewType


class Clock(Protocol):
    def now(self) -> str: ...


class FixedClock:
    def now(self) -> str:
        return "2026-01-01T00:00:00Z"


class Database:
    """Stands in for a connection pool: opened by an async factory, closed after `yield`."""

    def __init__(self, url: DatabaseUrl) -> None:
        self.url = url
        self.open = False

    async def health(self) -> bool:
        return self.open


async def open_database(url: DatabaseUrl) -> AsyncIterator[Database]:
    database = Database(url)
    database.open = True
    print(f"  database opened ({url})")
    yield database
    database.open = False
    print("  database closed (code after yield runs at aclose)")


@dataclass
class UserRepository:
    database: Database
    clock: Clock

    def describe(self) -> str:
        return f"users in {self.database.url} at {self.clock.now()}"


class SignupService:
    def __init__(self, users: UserRepository, *, welcome: str = "Welcome!") -> None:
        self.users = users
        self.welcome = welcome


async def main() -> None:
    async with create_container() as container:
        container.register(DatabaseUrl, instance=DatabaseUrl("postgresql://localhost/app"))
        container.register(Clock, FixedClock)  # interface -> implementation
        container.register(Database, open_database, health=lambda db: db.health())
        container.register(UserRepository, scope=Scope.TRANSIENT)
        container.register(SignupService, scope=Scope.TRANSIENT)

        print("resolving SignupService (async, because Database has an async factory):")
        service = await container.aresolve(SignupService)
        print(f"  {service.users.describe()}; welcome={service.welcome!r}")

        # Once the async singleton exists, sync resolve works everywhere.
        again = container.resolve(SignupService)
        print(f"  same Database shared: {again.users.database is service.users.database}")
        print(f"  keyword override: {container.resolve(SignupService, welcome='Hi').welcome!r}")

        report = await container.health()
        for name, status in report.items():
            print(f"health: {name} healthy={status.healthy} in {status.latency_ms:.2f} ms")

        try:
            container.resolve(NewType("Unregistered", str))
        except NotRegisteredError as error:
            print(f"error {error.code}: {error.message}")

        print(f"stats: {container.get_stats()}")
        print("leaving `async with` closes what the container built, newest first:")
    print(f"closed: {container.get_stats().closed}")


if __name__ == "__main__":
    asyncio.run(main())
