import os
import re
import subprocess
import sys
from pathlib import Path

from celery.app.defaults import DEFAULTS
from django.conf import settings

from scrm.celery import app

ROOT = Path(__file__).resolve().parent.parent


def test_every_celery_setting_name_is_one_celery_knows():
    names = [name for name in dir(settings) if name.startswith("CELERY_")]
    assert names, "no CELERY_* settings found"
    unknown = [name for name in names if name[len("CELERY_") :].lower() not in DEFAULTS]
    assert unknown == [], f"misspelled or unknown Celery settings: {unknown}"


def test_celery_app_reads_the_django_settings():
    assert app.conf.task_acks_late is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_default_queue == "default"
    assert {q.name for q in app.conf.task_queues} >= {"callbacks", "dispatch", "planning", "analytics", "default"}


def _boot(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "FIELD_ENCRYPTION_KEY", "DEBUG", "SCRM_TESTING"}}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"],
        env={**clean, "DJANGO_SETTINGS_MODULE": "scrm.settings", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_without_secret_key_fails_at_start_naming_it():
    result = _boot({"DEBUG": "false"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_without_field_encryption_key_fails_at_start_naming_it():
    result = _boot({"DEBUG": "false", "SECRET_KEY": "k7Hq2-vN9xR4tZp8LmW3sYb6JcF1dGe5aUi0oPnQrSt-XwVyBzCk"})
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY must be set" in result.stderr


def test_development_boots_with_embedded_defaults():
    result = _boot({"DEBUG": "true"})
    assert result.returncode == 0, result.stderr


def test_readme_documents_every_environment_variable_settings_reads():
    source = (ROOT / "scrm" / "settings.py").read_text()
    names = set(re.findall(r'env(?:\.[a-z_]+)?\(\s*"([A-Z_][A-Z0-9_]*)"', source))
    names |= set(re.findall(r'_required\(\s*"([A-Z_][A-Z0-9_]*)"', source))
    readme = (ROOT / "README.md").read_text()
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"} <= names
    missing = sorted(name for name in names if f"`{name}`" not in readme)
    assert missing == [], f"README.md configuration section misses: {missing}"
