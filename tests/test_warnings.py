"""Our configuration raises no warnings of its own (deprecations, missing static directory)."""

import warnings

import pytest
from django.contrib import admin
from whitenoise.middleware import WhiteNoiseMiddleware

from accounts.models import ChannelAccount
from customers.models import Customer


def test_static_files_middleware_starts_without_a_collected_static_directory(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "never-collected"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        WhiteNoiseMiddleware(get_response=lambda request: None)


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "field"), [(Customer, "avatar_url"), (ChannelAccount, "api_base_url")])
def test_admin_url_fields_assume_https_without_a_deprecation_warning(rf, admin_user, model, field):
    request = rf.get("/admin/")
    request.user = admin_user
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        form = admin.site._registry[model].get_form(request)()
    assert form.fields[field].assume_scheme == "https"
    assert form.fields[field].clean("shop.example.com/a") == "https://shop.example.com/a"
