from django.apps import AppConfig
from django.db.models.signals import class_prepared
from django.utils.translation import gettext_lazy as _

from scrm.derived_names import translate_derived_names

# Connected while the app modules are imported, before any model class exists: every project model's
# derived field and model names are translated (see scrm/derived_names.py).
class_prepared.connect(translate_derived_names, dispatch_uid="scrm.translate_derived_names")


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit log")
