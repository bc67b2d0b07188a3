"""A one-line description of the backends in use, for start-up output and /healthz."""

from django.conf import settings


def describe_backends() -> str:
    """Names the database and broker in use; never includes credentials."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        db_desc = f"SQLite file {db['NAME']} (embedded default)"
    else:
        db_desc = f"PostgreSQL {db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db['NAME']}"
    broker_desc = "Redis" if settings.REDIS_URL else "filesystem broker in var/broker, file cache (embedded default)"
    return f"database: {db_desc}; broker/cache: {broker_desc}"
