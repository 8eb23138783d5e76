"""Creates the first admin, so someone can create everyone else (`make run` makes a demo one)."""

from __future__ import annotations

import asyncio
import os
import sys

from argon2 import PasswordHasher
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db.identity import Staff
from shared.validation import normalize_saudi_mobile

DEMO_PASSWORD = "tawasul-demo-admin"  # noqa: S105 - development only, refused elsewhere


async def ensure_admin(
    database_url: str, *, username: str, password: str, phone: str, full_name: str = "Admin"
) -> bool:
    """Create the admin unless the username exists; True if it was created."""
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            exists = await conn.scalar(select(Staff.id).where(Staff.username == username))
            if exists is not None:
                return False
            hashed = await asyncio.to_thread(PasswordHasher().hash, password)
            await conn.execute(
                insert(Staff).values(
                    username=username,
                    full_name=full_name,
                    phone=phone,
                    password_hash=hashed,
                    role="admin",
                )
            )
            return True
    finally:
        await engine.dispose()


def main() -> None:
    """`python -m gateway.staff.bootstrap`: DEMO_ADMIN_USERNAME/PASSWORD/PHONE from the env."""
    environment = os.environ.get("ENVIRONMENT", "development")
    username = os.environ.get("DEMO_ADMIN_USERNAME", "admin")
    password = os.environ.get("DEMO_ADMIN_PASSWORD")
    if password is None:
        if environment != "development":
            sys.exit("DEMO_ADMIN_PASSWORD must be set outside development")
        password = DEMO_PASSWORD
    phone = normalize_saudi_mobile(os.environ.get("DEMO_ADMIN_PHONE", "+966500000001"))
    if phone is None:
        sys.exit("DEMO_ADMIN_PHONE must be a Saudi mobile number")
    created = asyncio.run(
        ensure_admin(os.environ["DATABASE_URL"], username=username, password=password, phone=phone)
    )
    state = "created" if created else "already exists"
    print(
        f"admin '{username}' {state}. Sign in: POST /v1/staff/auth/login "
        f'{{"username": "{username}", "password": "<DEMO_ADMIN_PASSWORD>"}}, then '
        f"/v1/staff/auth/login/verify with the code sent to {phone[:-3]}••• "
        f"(the console SMS provider prints it)."
        + (f" Development password: {password}" if environment == "development" else "")
    )


if __name__ == "__main__":
    main()
