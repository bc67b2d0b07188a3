"""The wizard's admin views: JSON for the editor (preview, audience count, policy preview), the
confirmation pages behind the campaign's buttons, and the progress page with its JSON.

Mounted by CampaignAdmin.get_urls under /admin/campaigns/campaign/ (the admin's permissions apply).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from campaigns import selectors
from campaigns.errors import CampaignError
from campaigns.models import Campaign, CampaignState, OperatorIdentity, SuppressionReason
from campaigns.titles.predict import title_predictions
from campaigns.wizard.actions import ACTIONS, LOG_MESSAGES, action_allowed, action_run
from campaigns.wizard.forms import validation_messages
from campaigns.wizard.preview import content_preview, policy_preview, preview_error, sample_customer
from customers.segments.models import Segment
from customers.segments.selectors import segment_preview
from scrm.errors import ApplicationError

AUDIENCE_SAMPLE = 10


def _form_errors(form) -> dict[str, list[str]]:
    """Errors by field, each message prefixed with the field's label (the preview lists them together)."""
    out = {}
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        out[field or "__all__"] = [f"{label}：{e}" if label else str(e) for e in errors]
    return out


def _campaign(model_admin, request: HttpRequest, object_id) -> Campaign:
    campaign = model_admin.get_object(request, str(object_id))
    if campaign is None:
        raise Http404(gettext("No such campaign."))
    return campaign


def _bound_form(model_admin, request: HttpRequest):
    """The wizard form over the POSTed editor, for a new campaign or the one in `?campaign=`."""
    instance = None
    raw = request.POST.get("campaign_id") or ""
    if raw.isdigit():
        instance = model_admin.get_object(request, raw)
        if instance is None or not model_admin.has_change_permission(request, instance):
            raise PermissionDenied
    elif not model_admin.has_add_permission(request):
        raise PermissionDenied
    form_class = model_admin.get_form(request, instance, change=instance is not None)
    return form_class(data=request.POST, instance=instance)


def preview_view(model_admin, request: HttpRequest) -> JsonResponse:
    """POST the editor → the message rendered for a sample customer, title preview, link check, errors."""
    if request.method != "POST":
        return JsonResponse({"message": gettext("Use POST.")}, status=405)
    form = _bound_form(model_admin, request)
    form.is_valid()
    errors = _form_errors(form)
    cleaned = getattr(form, "cleaned_data", {})
    if not form.built_content or not cleaned.get("account") or not cleaned.get("message_type"):
        # Nothing to show yet: a list of "required" before the operator has typed anything is noise.
        return JsonResponse({"ok": False, "errors": {}, "preview": None})
    raw_customer = request.POST.get("sample_customer", "")
    customer = sample_customer(segment=cleaned.get("segment"), customer_id=int(raw_customer) if raw_customer.isdigit() else None)
    campaign = Campaign(name=cleaned.get("name") or "", account=cleaned["account"], message_type=cleaned["message_type"], content=form.built_content)
    try:
        preview = content_preview(campaign=campaign, customer=customer, template=form.chosen_template)
    except (ApplicationError, KeyError, TypeError) as exc:
        message = exc.message if isinstance(exc, ApplicationError) else gettext("The content is incomplete.")
        return JsonResponse({"ok": False, "errors": {**errors, "__all__": [*errors.get("__all__", []), str(message)]}, "preview": None})
    return JsonResponse({"ok": not errors, "errors": errors, "preview": preview, "content": form.built_content})


def title_prediction_view(model_admin, request: HttpRequest) -> JsonResponse:
    """POST the editor → the title model's predicted click rate (with its 95% interval) of the
    title and of each variant, from the account's own history; called as the operator types."""
    if request.method != "POST":
        return JsonResponse({"message": gettext("Use POST.")}, status=405)
    form = _bound_form(model_admin, request)
    form.is_valid()
    cleaned = getattr(form, "cleaned_data", {})
    account = cleaned.get("account")
    if account is None or not form.built_content:
        return JsonResponse({"available": False, "note": gettext("Choose the account and write the title to see its predicted click rate.")})
    topics = [t.name for t in cleaned.get("topics") or []]
    return JsonResponse(title_predictions(account_id=account.pk, content=form.built_content, topics=topics))


def audience_view(model_admin, request: HttpRequest) -> JsonResponse:
    """A segment's live count and a few members (the sample customers of the preview)."""
    if not model_admin.has_view_or_change_permission(request):
        raise PermissionDenied
    raw = request.GET.get("segment", "")
    if not raw.isdigit():
        return JsonResponse({"message": gettext("Choose a segment (?segment=<id>).")}, status=400)
    segment = Segment.objects.filter(pk=int(raw)).first()
    if segment is None:
        return JsonResponse({"message": gettext("No such segment.")}, status=404)
    try:
        result = segment_preview(segment=segment, sample_size=AUDIENCE_SAMPLE)
    except ApplicationError as exc:
        return JsonResponse(preview_error(exc), status=400)
    sample = [{"id": c["id"], "name": c["display_name"] or f"#{c['id']}", "city": c["city"]} for c in result["sample"]]
    return JsonResponse({"segment": segment.pk, "name": segment.name, "count": result["count"], "sample": sample, "duration_ms": result["duration_ms"]})


def policy_preview_view(model_admin, request: HttpRequest) -> JsonResponse:
    """POST the editor → predicted reach and the suppression funnel (planned, then rolled back)."""
    if request.method != "POST":
        return JsonResponse({"message": gettext("Use POST.")}, status=405)
    form = _bound_form(model_admin, request)
    if not form.is_valid():
        return JsonResponse({"ok": False, "errors": _form_errors(form)}, status=400)

    def save():
        campaign = form.save(commit=False)
        campaign.created_by = campaign.created_by or request.user
        campaign.save()
        form.save_m2m()
        return campaign

    try:
        return JsonResponse({"ok": True, **policy_preview(save=save)})
    except ApplicationError as exc:
        return JsonResponse({"ok": False, **preview_error(exc)}, status=400)


def _reason_label(reason: str) -> str:
    return str(dict(SuppressionReason.choices).get(reason, reason))


def action_view(model_admin, request: HttpRequest, object_id, action_name: str) -> HttpResponse:
    """Confirmation page (GET) and the action itself (POST) for one of the campaign's buttons."""
    action = ACTIONS.get(action_name)
    if action is None:
        raise Http404(gettext("No such action."))
    campaign = _campaign(model_admin, request, object_id)
    can_change = model_admin.has_change_permission(request, campaign)
    if action.permission == "approve" and not request.user.has_perm("campaigns.approve_campaign"):
        raise PermissionDenied
    if action.permission == "change" and not can_change:
        raise PermissionDenied
    change_url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    if not action_allowed(action, campaign=campaign, user=request.user, can_change=can_change):
        messages.error(request, gettext("“%(action)s” is not possible while the campaign is “%(state)s”.") % {"action": action.label, "state": campaign.get_state_display()})
        return redirect(change_url)
    context: dict[str, Any] = {}
    identities = []
    if action.name == "test_send":
        identities = list(
            OperatorIdentity.objects.filter(user=request.user, identity__account_id=campaign.account_id).select_related("identity__customer")
        )
    preview = None
    if action.name == "schedule":
        preview = _schedule_preview(campaign)
    if request.method == "POST":
        if action.name == "schedule" and preview and preview.get("zero_reach") and not request.POST.get("confirm_zero_reach"):
            context["confirm_error"] = gettext("Tick the box to confirm that you schedule a campaign nobody would receive.")
        else:
            return _act(model_admin, request, campaign, action, change_url)
    context.update(
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "campaign": campaign,
            "original": campaign,
            "action": action,
            "title": f"{action.label}: {campaign.name}",
            "preview": preview,
            "identities": identities,
            "change_url": change_url,
        }
    )
    return TemplateResponse(request, "campaigns/wizard/action_confirm.html", context)


def _schedule_preview(campaign: Campaign) -> dict[str, Any]:
    try:
        return policy_preview(save=lambda: campaign)
    except ApplicationError as exc:
        return {"error": {**preview_error(exc), "problems": _problems(exc)}}


def _problems(exc: ApplicationError) -> list[str]:
    """What is wrong with a campaign that failed validation, in the operator's language."""
    if exc.code != CampaignError.INVALID_CAMPAIGN or not isinstance(exc.detail, dict):
        return []
    return [message for _field, message in validation_messages(exc.detail, str(exc.message))]


def _act(model_admin, request: HttpRequest, campaign: Campaign, action, change_url: str) -> HttpResponse:
    # The log keeps state codes: it is read in every language.
    before = campaign.state
    identity = request.POST.get("identity", "")
    try:
        result = action_run(action.name, campaign=campaign, user=request.user, identity_id=int(identity) if identity.isdigit() else None)
    except ApplicationError as exc:
        problems = _problems(exc) or [str(exc.message)]
        messages.error(request, gettext("%(action)s failed: %(problems)s") % {"action": action.label, "problems": " ".join(problems)})
        return redirect(change_url)
    campaign.refresh_from_db()
    if action.name == "test_send":
        sent = sum(1 for r in result if r.get("status") == "sent")
        model_admin.log_change(request, campaign, f"{LOG_MESSAGES[action.name]}: {sent}/{len(result)} sent")
        level = messages.SUCCESS if sent == len(result) else messages.WARNING
        codes = ", ".join(sorted({str(r.get("error_code")) for r in result if r.get("status") != "sent" and r.get("error_code")}))
        messages.add_message(request, level, gettext("Test send: %(sent)d of %(n)d identities received it.") % {"sent": sent, "n": len(result)} + (f" ({codes})" if codes else ""))
        return redirect(change_url)
    model_admin.log_change(request, campaign, f"{LOG_MESSAGES[action.name]}: {before} → {campaign.state}")
    if campaign.state == CampaignState.PENDING_APPROVAL:
        messages.warning(request, gettext("The audience is over the approval threshold: a publisher must approve the campaign before it is sent."))
    else:
        messages.success(request, gettext("%(action)s: the campaign is now “%(state)s”.") % {"action": action.label, "state": campaign.get_state_display()})
    if campaign.state in (CampaignState.SCHEDULED, CampaignState.PLANNING, CampaignState.SENDING):
        return redirect(reverse("admin:campaigns_campaign_progress", args=[campaign.pk]))
    return redirect(change_url)


def progress_payload(campaign: Campaign) -> dict[str, Any]:
    """What the progress page shows, re-read every second by its script."""
    p = selectors.campaign_progress(campaign=campaign)
    state_labels = dict(CampaignState.choices)
    by_reason = dict(campaign.suppressions.values("reason").annotate(n=Count("id")).order_by().values_list("reason", "n"))
    next_at = timezone.localtime(p["next_send_at"]) if p["next_send_at"] else None
    return {
        "id": campaign.pk,
        "state": p["state"],
        "state_label": str(state_labels.get(p["state"], p["state"])),
        "counts": p["counts"],
        "total": p["total"],
        "done": p["done"],
        "sent": p["sent"],
        "remaining": p["remaining"],
        "percent": p["percent"],
        "rate_per_second": p["rate_per_second"],
        "eta_seconds": p["eta_seconds"],
        "audience": p["audience"],
        "suppressed": p["suppressed"],
        "nobody_reached": campaign.planned_at is not None and p["total"] == 0,
        "next_send_at": next_at.isoformat() if next_at else None,
        "waiting_note": gettext("Waiting for quiet hours or the send window to end: sending resumes at %(at)s.") % {"at": f"{next_at:%H:%M}"}
        if next_at and not p["rate_per_second"] and not p["deferred"] else "",
        "deferred_note": deferral_note(p["deferred"]),
        "funnel": [
            {"reason": r, "label": _reason_label(r), "count": by_reason[r]} for r in selectors.funnel_order() if by_reason.get(r) and r != "holdout"
        ],
        "held_out": by_reason.get("holdout", 0),
        "as_of": timezone.localtime(p["as_of"]).isoformat(),
        "report_url": reverse("admin-campaign-reports") + f"?campaign={campaign.pk}",
    }


def deferral_note(deferred: dict[str, Any] | None) -> str:
    """The operator's sentence for a quota deferral: until when (local time), why, how many wait."""
    if not deferred:
        return ""
    values = {
        "until": f"{timezone.localtime(deferred['until']):%Y-%m-%d %H:%M}",
        "reason": (deferred["reason_label"] or deferred["reason"]).rstrip("。.；;"),
        "count": deferred["count"],
    }
    if deferred["active"]:
        return gettext(
            "Deferred until %(until)s by WeChat's quota (%(reason)s): %(count)d deliveries wait and go out by themselves then; none failed."
        ) % values
    return gettext("Was deferred until %(until)s by WeChat's quota (%(reason)s): %(count)d deliveries waited and went out after it turned.") % values


def progress_json_view(model_admin, request: HttpRequest, object_id) -> JsonResponse:
    campaign = _campaign(model_admin, request, object_id)
    if not model_admin.has_view_or_change_permission(request, campaign):
        raise PermissionDenied
    buttons = [{**b, "label": str(b["label"])} for b in model_admin.campaign_buttons(request, campaign)]
    return JsonResponse({**progress_payload(campaign), "buttons": buttons})


def progress_view(model_admin, request: HttpRequest, object_id) -> HttpResponse:
    campaign = _campaign(model_admin, request, object_id)
    if not model_admin.has_view_or_change_permission(request, campaign):
        raise PermissionDenied
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "campaign": campaign,
        "original": campaign,
        "title": gettext("Progress: %(name)s") % {"name": campaign.name},
        "progress": progress_payload(campaign),
        "json_url": reverse("admin:campaigns_campaign_progress_json", args=[campaign.pk]),
        "change_url": reverse("admin:campaigns_campaign_change", args=[campaign.pk]),
        "buttons": model_admin.campaign_buttons(request, campaign),
    }
    return TemplateResponse(request, "campaigns/wizard/progress.html", context)
