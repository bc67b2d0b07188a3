from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = _("Messaging")

    def ready(self) -> None:
        from customers.privacy import register_erasure_handler
        from messaging.privacy import messaging_erase_customer

        register_erasure_handler(messaging_erase_customer)

        from messaging.conversation_requests import register_conversation_request_handler
        from messaging.inbox.services import inbox_conversation_request

        register_conversation_request_handler(inbox_conversation_request)
