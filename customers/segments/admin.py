"""Admin: a segment builder (conditions added with a form, the JSON stays visible) with a live count."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from unfold.widgets import TEXTAREA_CLASSES

from audit.admin import ModelAdmin
from customers.segments import builder, selectors, services
from customers.segments.models import Segment, SegmentKind, SegmentSnapshot
from customers.segments.rules import rule_validate
from scrm.errors import ApplicationError


class SegmentRuleWidget(forms.Textarea):
    """The segment builder: conditions added with menus, a live count with sample members and the
    size history; the rule's JSON stays in a collapsed textarea (the form's value) for power users."""

    template_name = "segments/rule_builder_widget.html"

    class Media:
        js = ["customers/segment_builder.js", "customers/segment_builder_conditions.js"]

    def __init__(self, *args, preview_url: str = "", segment_id: int | None = None, **kwargs):
        super().__init__(*args, attrs={"rows": 12, "class": " ".join(["segment-rule-json", *TEXTAREA_CLASSES])}, **kwargs)
        self.preview_url, self.segment_id = preview_url, segment_id

    def format_value(self, value):
        # forms.JSONField hands over its value already dumped: a new segment's is "null" or "{}".
        if value in (None, "", "null", "{}", {}):
            return json.dumps({"all": []}, indent=2)
        if isinstance(value, str):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["builder_id"] = f"{attrs.get('id', name)}_builder_config"
        context["builder"] = builder.builder_config(preview_url=self.preview_url, segment_id=self.segment_id)
        history = builder.count_history_chart(segment_id=self.segment_id) if self.segment_id else None
        context["history"] = json.dumps(history, ensure_ascii=False) if history else ""
        return context


class SegmentAdminForm(forms.ModelForm):
    rule = forms.JSONField(label=_("rule"), required=False)

    class Meta:
        model = Segment
        fields = ["name", "kind", "description", "rule"]

    def clean(self):
        cleaned = super().clean()
        kind, rule = cleaned.get("kind"), cleaned.get("rule")
        if kind == SegmentKind.STATIC:
            cleaned["rule"] = {}
        elif kind:
            if rule in (None, {}):
                cleaned["rule"] = rule = {"all": []}
            errors = rule_validate(rule, segment_id=self.instance.pk)
            if errors:
                self.add_error("rule", [f"{builder.error_hint(e.path)} ({e.path})" for e in errors])
        return cleaned


class StaticUploadForm(forms.Form):
    file = forms.FileField(label=_("CSV file (first column)"))
    id_kind = forms.ChoiceField(choices=[(k, k) for k in services.UPLOAD_ID_KINDS], label=_("The column holds"))


@admin.register(Segment)
class SegmentAdmin(ModelAdmin):
    form = SegmentAdminForm
    list_display = ["name", "kind", "member_count", "counted_at", "updated_at"]
    list_filter = ["kind"]
    search_fields = ["name", "description"]
    readonly_fields = ["member_count", "counted_at"]
    actions = ["refresh_counts", "take_snapshot"]
    change_form_template = "segments/segment_change_form.html"

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.base_fields["rule"].widget = SegmentRuleWidget(
            preview_url=reverse("admin:customers_segment_preview"), segment_id=obj.pk if obj else None
        )
        return form

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def get_urls(self):
        return [
            path("preview/", self.admin_site.admin_view(self.preview_view), name="customers_segment_preview"),
            path("<int:pk>/upload/", self.admin_site.admin_view(self.upload_view), name="customers_segment_upload"),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest) -> JsonResponse:
        """Live count for the builder: POST {"rule": …, "segment_id": …} -> count + sample, or errors."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return JsonResponse({"message": "POST a rule"}, status=405)
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JsonResponse({"errors": [{"path": "$", "message": "not valid JSON"}]}, status=400)
        segment_id = body.get("segment_id") if isinstance(body.get("segment_id"), int) else None
        try:
            result = selectors.rule_preview(rule=body.get("rule"), segment_id=segment_id, sample_size=5)
        except ApplicationError as exc:
            return JsonResponse({"message": exc.message, **(exc.detail or {})}, status=400)
        return JsonResponse(result, json_dumps_params={"default": str})

    def upload_view(self, request: HttpRequest, pk: int):
        segment = get_object_or_404(Segment, pk=pk)
        if not self.has_change_permission(request, segment):
            raise PermissionDenied
        form = StaticUploadForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            try:
                report = services.segment_static_upload(
                    segment=segment, content=form.cleaned_data["file"].read(), id_kind=form.cleaned_data["id_kind"]
                )
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, _("%(added)s customers added; %(unmatched)s rows unmatched.") % {
                    "added": report["added"], "unmatched": report["unmatched_count"]})
                if not report["unmatched_count"]:
                    return HttpResponseRedirect(reverse("admin:customers_segment_change", args=[pk]))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "segment": segment, "form": form,
                   "report": report, "title": _("Upload members of %s") % segment.name}
        return TemplateResponse(request, "segments/static_upload.html", context)

    @admin.action(description=_("Refresh member counts"))
    def refresh_counts(self, request, queryset):
        for segment in queryset:
            services.segment_count_refresh(segment=segment)
        self.message_user(request, _("Counts refreshed."))

    @admin.action(description=_("Take a snapshot"))
    def take_snapshot(self, request, queryset):
        for segment in queryset:
            snapshot = services.segment_snapshot_create(segment=segment)
            self.message_user(request, _("%(name)s: snapshot of %(n)s members.") % {"name": segment.name, "n": snapshot.member_count})


@admin.register(SegmentSnapshot)
class SegmentSnapshotAdmin(ModelAdmin):
    list_display = ["id", "segment", "member_count", "created_at"]
    list_filter = ["segment"]
    readonly_fields = ["segment", "kind", "rule", "member_count", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
