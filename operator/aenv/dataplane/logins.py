"""PostgreSQL login roles (kind postgres.login, planned in plan/logins.py): the observe/create/update/delete of an
AWS component, made against the database itself with aenv's master user.

Each login role's comment records the version of secret/database-login its password is from (`aenv <version>`).
Observe reports `login` when the role the secret names is missing, cannot log in or has another version's password,
and `revoke` when the other role can still log in although no ready pod holds its version any more (param
logins_in_use; without it, never). Update creates the group role with its privileges, sets the login, and revokes
(NOLOGIN, no password) the other one. A database the operator cannot reach is `unreachable` and ready, with
`managed: false`: the connection Secret then carries the master user, as it must for an operator outside the VPC.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..api.spec import DeletionPolicy
from ..aws.component import AwsTarget, Classified
from ..aws.errors import TransientError
from ..naming import TAG_ENVIRONMENT, TAG_UID
from ..plan.logins import GROUP_ROLE, LOGIN_ROLES, other
from ..plan.types import Desired, Observation, Sensitive
from . import Settings
from .postgres import UNREACHABLE_MARKERS, connect_args

if TYPE_CHECKING:
    import psycopg

KIND = "postgres.login"
COMMENT_PREFIX = "aenv "
REVOKED = "aenv revoked"


def _version(comment: str | None) -> str | None:
    return comment.removeprefix(COMMENT_PREFIX) if comment and comment.startswith(COMMENT_PREFIX) \
        and comment != REVOKED else None


class PostgresLogins(Classified):
    """One per mode and target, like the AWS clients; it connects per call (a pass per environment and interval)."""

    def __init__(self, target: AwsTarget, settings: Settings | None = None) -> None:
        self.settings = settings

    def _settings(self) -> Settings:
        return self.settings or Settings.from_environ()

    def _connect(self, p: Mapping[str, Any]) -> psycopg.Connection[Any]:
        import psycopg  # 10 MB resident: loaded with the first database an operator serves

        try:
            return psycopg.connect(host=p["host"], port=p["port"], dbname=p["db_name"], user=p["master_username"],
                                   password=str(p["master_password"]), autocommit=True,
                                   **connect_args(self._settings()))
        except psycopg.OperationalError as e:
            text = " ".join(str(e).split())
            for secret in (str(p["master_password"]), str(p["password"])):
                text = text.replace(secret, "***")
            if any(m in text.lower() for m in UNREACHABLE_MARKERS):
                raise _Unreachable(text) from None
            raise TransientError(f"the database at {p['host']}:{p['port']} refused aenv's master user: {text}") \
                from None

    def observe(self, desired: Desired) -> Observation:
        p = desired.params
        if not p:  # a lookup to retire it: the roles go with the database
            return Observation.absent()
        owner, environment = desired.tags.get(TAG_UID), desired.tags.get(TAG_ENVIRONMENT)
        try:
            conn = self._connect(p)
        except _Unreachable as e:
            return Observation(exists=True, ready=True, up_to_date=True, outputs={"managed": False},
                               state=f"unreachable ({e})", owner=owner, owner_environment=environment)
        with conn:
            rows = conn.execute("SELECT rolname, rolcanlogin, shobj_description(oid, 'pg_authid') FROM pg_roles "
                                "WHERE rolname = ANY(%s)", [[GROUP_ROLE, *LOGIN_ROLES]]).fetchall()
        roles = {name: (can_login, _version(comment)) for name, can_login, comment in rows}
        current, version = str(p["username"]), str(p["version"])
        diff: dict[str, tuple[Any, Any]] = {}
        if GROUP_ROLE not in roles or roles.get(current) != (True, version):
            diff["login"] = ((roles.get(current) or (False, None))[1], version)  # versions, never passwords
        held = p.get("logins_in_use")
        can_login, previous = roles.get(other(current), (False, None))
        if "login" not in diff and can_login and held is not None and previous not in held:
            diff["revoke"] = (other(current), None)
        outputs = {"managed": True, "username": current, "password": Sensitive(str(p["password"])),
                   "version": version} if "login" not in diff else {}
        return Observation(exists=True, ready="login" not in diff, up_to_date=not diff, diff=diff, outputs=outputs,
                           state="available" if "login" not in diff else "without its login", owner=owner,
                           owner_environment=environment)

    def create(self, desired: Desired) -> Observation:
        return self.update(desired, self.observe(desired))

    def update(self, desired: Desired, observed: Observation) -> Observation:
        from psycopg import sql

        p = desired.params
        current, group = sql.Identifier(str(p["username"])), sql.Identifier(GROUP_ROLE)
        with self._connect(p) as conn, conn.transaction():
            if "login" in observed.diff:
                self._group(conn, str(p["db_name"]), str(p["master_username"]))
                exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [str(p["username"])]).fetchone()
                verb = "ALTER" if exists else "CREATE"
                conn.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
                    current, sql.Literal(str(p["password"]))))
                conn.execute(sql.SQL("GRANT {} TO {}").format(group, current))
                # What the role creates belongs to the group, so the next login role can change it too.
                conn.execute(sql.SQL("ALTER ROLE {} SET role = {}").format(current, sql.Literal(GROUP_ROLE)))
                conn.execute(sql.SQL("COMMENT ON ROLE {} IS {}").format(
                    current, sql.Literal(COMMENT_PREFIX + str(p["version"]))))
            if "revoke" in observed.diff:
                previous = sql.Identifier(str(observed.diff["revoke"][0]))
                conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN PASSWORD NULL").format(previous))
                conn.execute(sql.SQL("COMMENT ON ROLE {} IS {}").format(previous, sql.Literal(REVOKED)))
        return self.observe(desired)

    @staticmethod
    def _group(conn: psycopg.Connection[Any], database: str, master: str) -> None:
        """The group role with every privilege on the database's public schema, now and for what the master user
        (a restore, an older migration) makes later."""
        from psycopg import sql

        group = sql.Identifier(GROUP_ROLE)
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [GROUP_ROLE]).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(group))
        for statement in ("GRANT ALL ON DATABASE {db} TO {g}", "GRANT ALL ON SCHEMA public TO {g}",
                          "GRANT ALL ON ALL TABLES IN SCHEMA public TO {g}",
                          "GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {g}",
                          "ALTER DEFAULT PRIVILEGES FOR ROLE {m} IN SCHEMA public GRANT ALL ON TABLES TO {g}",
                          "ALTER DEFAULT PRIVILEGES FOR ROLE {m} IN SCHEMA public GRANT ALL ON SEQUENCES TO {g}"):
            conn.execute(sql.SQL(statement).format(db=sql.Identifier(database), g=group, m=sql.Identifier(master)))

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        """Nothing: the roles live in the database and go (or stay) with it."""


class _Unreachable(Exception):
    pass
