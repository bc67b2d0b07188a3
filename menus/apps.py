from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MenusConfig(AppConfig):
    name = "menus"
    verbose_name = _("Menus")

    def ready(self) -> None:
        # Menu events arrive through messaging's inbound loop; messaging may not import menus, so
        # menus registers its handler here.
        from menus.routing import menu_interaction_route
        from messaging.menu_events import register_menu_interaction_handler

        register_menu_interaction_handler(menu_interaction_route)
