"""Pieces of the console's page chrome cached across requests: the sidebar, the action bar, the filter
panel. Each is the same HTML on every page it appears on for the facts named in its key, and rendering
them through unfold's nested templates costs more than the rest of a search page.

    {% fragment_cache "sidebar" sidebar_cache_key user.pk %} … {% endfragment_cache %}

The key is the fragment's name, the active language and the values given; where one of them is
UNCACHEABLE (a filter panel that cannot say what it shows) the fragment is rendered uncached. Fragments live in each
process's memory (the `fragments` cache): no network round trip, and a deploy, which restarts the
processes, starts from templates and settings as they now are — everything else a fragment shows is in
its key, so nothing needs invalidating. Django's own {% cache %}
would store the page's CSRF token, and Django masks the token anew for every response so that it never
repeats across responses (BREACH); the fragment is therefore rendered with a placeholder where
{% csrf_token %} goes, and each response's own token is put in on the way out.
"""

from __future__ import annotations

import hashlib

from django import template
from django.core.cache import caches
from django.utils import translation
from django.utils.functional import Promise
from django.utils.safestring import mark_safe

from audit.filters import SelectFilter

register = template.Library()

FRAGMENT_TTL_SECONDS = 3600
CSRF_PLACEHOLDER = "console-fragment-csrf-placeholder"
UNCACHEABLE = object()


def _stable(value):
    """A repr-able form of a key part whose repr is the same in every process (lazy translations
    and model instances have addresses in theirs)."""
    if isinstance(value, (list, tuple)):
        return tuple(_stable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _stable(v)) for k, v in value.items()))
    if isinstance(value, Promise):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return f"{type(value).__qualname__}:{value}"


def fragment_key(name: str, vary: list) -> str:
    digest = hashlib.blake2b(repr((translation.get_language(), _stable(vary))).encode(), digest_size=16).hexdigest()
    return f"console:fragment:{name}:{digest}"


class FragmentCacheNode(template.Node):
    def __init__(self, nodelist, name, vary):
        self.nodelist, self.name, self.vary = nodelist, name, vary

    def render(self, context):
        name = self.name.resolve(context)
        vary = [part.resolve(context) for part in self.vary]
        if any(part is UNCACHEABLE for part in vary):
            return self.nodelist.render(context)
        key = fragment_key(name, vary)
        fragments = caches["fragments"]
        html = fragments.get(key)
        if html is None:
            with context.push(csrf_token=CSRF_PLACEHOLDER):
                html = self.nodelist.render(context)
            fragments.set(key, html, FRAGMENT_TTL_SECONDS)
        if CSRF_PLACEHOLDER in html:
            token = context.get("csrf_token")
            html = html.replace(CSRF_PLACEHOLDER, str(token) if token else "")
        return mark_safe(html)  # noqa: S308 (rendered by the escaping template engine; the token is [A-Za-z0-9])


@register.tag
def fragment_cache(parser, token):
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError("fragment_cache takes a name and the values the fragment depends on")
    nodelist = parser.parse(("endfragment_cache",))
    parser.delete_first_token()
    return FragmentCacheNode(nodelist, parser.compile_filter(bits[1]), [parser.compile_filter(bit) for bit in bits[2:]])


@register.simple_tag
def filters_fingerprint(cl):
    """What a changelist's filter panel (its filters and their actions) shows, when every filter can say it.

    Only a filter form (`list_filter_submit`) without facet counts qualifies: link-style filters carry
    the page's whole query string in every link. A filter says what it shows through its own
    `fragment_fingerprint()`, or, as a SelectFilter, by its parameter, current value and choices; else
    the panel is UNCACHEABLE."""
    if not getattr(cl.model_admin, "list_filter_submit", False) or getattr(cl, "add_facets", False):
        return UNCACHEABLE
    parts = []
    for spec in cl.filter_specs:
        own = getattr(spec, "fragment_fingerprint", None)
        if own is not None:
            parts.append((type(spec).__qualname__, own()))
        elif isinstance(spec, SelectFilter):
            parts.append((type(spec).__qualname__, spec.parameter_name, spec.value(), spec.lookup_choices))
        else:
            return UNCACHEABLE
    # the panel's actions: "clear all filters" links to the list without them (keeping the search)
    clear_all = cl.clear_all_filters_qs if cl.has_active_filters else None
    return (cl.opts.label_lower, bool(cl.has_active_filters), clear_all, bool(cl.is_facets_optional), parts)


@register.simple_tag
def action_choices(action_form):
    field = action_form.fields.get("action") if action_form is not None else None
    return list(field.choices) if field is not None else UNCACHEABLE


@register.simple_tag(takes_context=True)
def shortcut_platform(context) -> str:
    """Which keyboard shortcut the sidebar's search shows (unfold: ⌘K on a Mac, Ctrl + K elsewhere)."""
    request = context.get("request")
    agent = request.META.get("HTTP_USER_AGENT", "") if request is not None else ""
    return "mac" if "Macintosh" in agent else "other"
