"""The database's logical backups: pg_dump to the environment's bucket, pg_restore from it, the restore drill.

`pgtools`: the PostgreSQL client tools and S3 (I/O); `schedule`: what is due (pure); `drill`: the drill's
restore and checks; `runner`: one environment's due work against its outputs, with the status it leaves.
"""
