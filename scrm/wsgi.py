import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")
django_application = get_wsgi_application()

# WeChat's callback URLs skip the middleware stack (messaging/callbacks/wsgi.py); all else is Django's.
from messaging.callbacks.wsgi import callback_dispatch  # noqa: E402 - needs the app registry ready

application = callback_dispatch(django_application)
