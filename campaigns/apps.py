from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        # Delivery reports arrive through messaging's inbound loop; messaging may not import
        # campaigns, so campaigns registers its handler here.
        from campaigns import receivers  # noqa: F401
