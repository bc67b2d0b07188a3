"""Run inside `manage.py shell` on the embedded SQLite database (see test_every_page.py): every console
page answers without a 5xx; a page that needs PostgreSQL says so in Chinese with DATABASE_URL."""

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from tests.console.admin_walk import console_sample_data, walk

assert connection.vendor == "sqlite", connection.vendor
admin = get_user_model().objects.filter(username="sqlite-pages").first() or get_user_model().objects.create_superuser(
    "sqlite-pages", "pages@example.com", "pw"
)
print("models without a row:", console_sample_data())
client = Client()
client.force_login(admin)
result = walk(client, admin)
failures = [line for line in result.failures(english=False) if "HTTP" in line]
print(f"{len(result.pages)} pages walked on SQLite, {sum(p.status == 200 for p in result.pages)} answered 200")
assert not failures, "\n".join(failures)
print("SQLITE PAGES PASSED")
