from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = _("Console")

    def ready(self) -> None:
        from console import changelist_headers
        from console.roles import seed_roles_after_migrate

        changelist_headers.install()

        # After every migrate (and every test database flush): the role groups exist with their permissions.
        post_migrate.connect(seed_roles_after_migrate, dispatch_uid="console.seed_roles")
