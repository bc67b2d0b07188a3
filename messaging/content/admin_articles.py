"""Articles in the console: write a draft (one article; WeChat's editor can add more), publish it,
follow the publish job, and read each article's statistics."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audit.admin import ModelAdmin
from messaging.content.admin import ServiceAccountFilter, service_accounts
from messaging.content.articles import FIELD_LIMITS, article_draft_create, article_publish, article_publish_refresh
from messaging.content.models import Article, ArticleState, Material, MaterialKind
from scrm.errors import ApplicationError


class ArticleDraftForm(forms.ModelForm):
    title = forms.CharField(label=_("title"), max_length=FIELD_LIMITS["title"],
                            help_text=_("The first 16 characters are what a follower sees in the chat list."))
    author = forms.CharField(label=_("author"), max_length=FIELD_LIMITS["author"], required=False)
    digest = forms.CharField(label=_("digest"), max_length=FIELD_LIMITS["digest"], required=False, widget=forms.Textarea(attrs={"rows": 2}))
    content = forms.CharField(label=_("content (HTML)"), max_length=FIELD_LIMITS["content"], widget=forms.Textarea(attrs={"rows": 10}),
                              help_text=_("Images in the body must be article body images from the material library."))
    content_source_url = forms.URLField(label=_("“Read more” link"), required=False, assume_scheme="https")
    thumb = forms.ModelChoiceField(label=_("cover image"), queryset=Material.objects.none(),
                                   help_text=_("A permanent image or thumbnail of the same account."))

    class Meta:
        model = Article
        fields = ["account"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = service_accounts()
        self.fields["thumb"].queryset = Material.objects.defer("data").filter(
            permanent=True, removed_at__isnull=True, kind__in=[MaterialKind.IMAGE, MaterialKind.THUMB],
        ).exclude(media_id="")

    def clean(self):
        cleaned = super().clean()
        account, thumb = cleaned.get("account"), cleaned.get("thumb")
        if account is None or thumb is None or self.errors:
            return cleaned
        if thumb.account_id != account.pk:
            raise forms.ValidationError(gettext("The cover image belongs to another account."))
        item = {k: cleaned.get(k) or "" for k in ("title", "author", "digest", "content", "content_source_url")}
        item["thumb_media_id"] = thumb.media_id
        try:
            cleaned["article"] = article_draft_create(account=account, items=[item])
        except ApplicationError as exc:
            raise forms.ValidationError(str(exc.message)) from exc
        return cleaned


@admin.register(Article)
class ArticleAdmin(ModelAdmin):
    list_display = ["title_display", "account", "state", "media_id", "published_at", "link_display"]
    list_filter = [ServiceAccountFilter, "state"]
    search_fields = ["=media_id", "=article_id"]
    list_select_related = ["account"]
    readonly_fields = ["account", "state", "articles_display", "media_id", "publish_id", "publish_status", "article_id",
                       "links_display", "published_at", "created_at"]
    actions = ["publish_selected", "refresh_selected"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ArticleDraftForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["account", "title", "author", "digest", "content", "content_source_url", "thumb"]
        return self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def save_model(self, request, obj, form, change):
        article = form.cleaned_data["article"]
        obj.pk = article.pk
        obj.__dict__.update({k: v for k, v in article.__dict__.items() if not k.startswith("_")})

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_publish_permission(self, request):
        return request.user.has_perm("messaging.add_article")

    @admin.display(description=_("title"))
    def title_display(self, obj: Article) -> str:
        return obj.title

    @admin.display(description=_("articles"))
    def articles_display(self, obj: Article) -> str:
        return format_html_join("", "<p><strong>{}</strong> — {}</p>", ((i.get("title", ""), i.get("digest", "")) for i in obj.items)) or "—"

    @admin.display(description=_("link"))
    def link_display(self, obj: Article) -> str:
        if not obj.article_urls:
            return "—"
        return format_html('<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>', obj.article_urls[0], gettext("open"))

    @admin.display(description=_("article URLs"))
    def links_display(self, obj: Article) -> str:
        return format_html_join("", '<div><a href="{}" target="_blank" rel="noopener noreferrer">{}</a></div>', ((u, u) for u in obj.article_urls)) or "—"

    @admin.action(description=_("Publish the selected drafts"), permissions=["publish"])
    def publish_selected(self, request, queryset):
        for article in queryset.filter(state=ArticleState.DRAFT):
            try:
                article_publish(article=article)
                messages.success(request, gettext("“%(title)s” was submitted for publishing.") % {"title": article.title})
            except ApplicationError as exc:
                messages.error(request, str(exc.message))

    @admin.action(description=_("Ask WeChat for the publishing result"), permissions=["publish"])
    def refresh_selected(self, request, queryset):
        for article in queryset.filter(state=ArticleState.PUBLISHING):
            try:
                article_publish_refresh(article=article)
            except ApplicationError as exc:
                messages.error(request, str(exc.message))
