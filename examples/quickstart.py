"""Sign up, sign in, and read and change your profile with the typed SDK.

    GRAVITY_BASE_URL=http://127.0.0.1:8080 python examples/quickstart.py you@example.com
"""

from __future__ import annotations

import getpass
import os
import sys

from gravity_sdk import ConflictError, Gravity


def main(email: str, password: str) -> None:
    with Gravity(base_url=os.environ.get("GRAVITY_BASE_URL", "http://127.0.0.1:8080")) as client:
        try:
            client.auth.register(email=email, password=password, display_name="Example")
            print(f"registered {email}")
        except ConflictError:
            print(f"{email} already has an account")
        client.auth.login(email=email, password=password)
        me = client.users.update_me(display_name="Example user")
        print(f"signed in as {me.email} ({me.id}), roles: {', '.join(me.roles)}, name: {me.display_name}")
        client.auth.logout()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: quickstart.py EMAIL   (the password is read from GRAVITY_PASSWORD or asked for)")
    main(sys.argv[1], os.environ.get("GRAVITY_PASSWORD") or getpass.getpass())
