"""WeChat and WeCom API handlers, one module per API family.

A handler takes a `Ctx` and returns the JSON answer (errcode 0 is added when missing) or raises
`ApiError`. Handlers run with the state lock held.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from messaging.sandbox.state import App, SandboxState


@dataclass
class Ctx:
    state: SandboxState
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    poster: Any  # CallbackPoster
    app: App | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def arg(self, name: str, default: Any = None) -> Any:
        if name in self.body:
            return self.body[name]
        return self.query.get(name, default)


Handler = Callable[[Ctx], dict]


def build_routes() -> tuple[dict[str, Handler], dict[str, Handler], dict[str, Handler]]:
    """(public routes without a token, WeChat routes for oa/miniprogram tokens, WeCom routes)."""
    # The handler modules import Ctx from this package, so they are loaded when the routes are built.
    from messaging.sandbox.handlers import (
        articles,
        customservice,
        datacube,
        mass_content,
        materials,
        media,
        menus,
        miniprogram,
        official,
        templates,
        tokens,
        users,
        wecom,
        wecom_batch,
        wecom_directory,
        wecom_group_welcome,
        wecom_groups,
        wecom_handover,
        wecom_moments,
        wecom_tags,
    )

    public = {**tokens.ROUTES, **miniprogram.PUBLIC_ROUTES}
    wechat = {
        **official.ROUTES, **users.ROUTES, **miniprogram.ROUTES, **templates.ROUTES, **materials.ROUTES,
        **articles.ROUTES, **mass_content.ROUTES, **datacube.ROUTES, **menus.ROUTES,
        **customservice.ROUTES,
    }
    wecom_routes = {**wecom.ROUTES, **wecom_batch.ROUTES, **media.ROUTES, **wecom_directory.ROUTES, **wecom_groups.ROUTES,
                    **wecom_handover.ROUTES, **wecom_group_welcome.ROUTES, **wecom_moments.ROUTES, **wecom_tags.ROUTES}
    return public, wechat, wecom_routes
