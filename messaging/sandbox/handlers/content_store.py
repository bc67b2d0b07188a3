"""What the sandbox keeps of an account's content: materials, temporary media, body images, drafts,
publish jobs and published articles (with the reads the sandbox simulates for statistics)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from messaging.sandbox.state import App


@dataclass
class StoredMedia:
    media_id: str
    kind: str  # image | voice | video | thumb | mpvideo (a video converted by media/uploadvideo)
    filename: str
    size: int
    created_at: float
    permanent: bool
    url: str = ""
    title: str = ""
    introduction: str = ""


@dataclass
class Draft:
    media_id: str
    articles: list[dict]
    created_at: float
    updated_at: float


@dataclass
class PublishJob:
    publish_id: int
    media_id: str
    status: int  # 0 success, 1 publishing, 2 originality failure, 3 failure, 4 rejected by review
    article_id: str = ""
    article_urls: list[str] = field(default_factory=list)
    fail_idx: list[int] = field(default_factory=list)
    created_at: float = 0.0


@dataclass
class ContentStore:
    media: dict[str, StoredMedia] = field(default_factory=dict)  # permanent and temporary, by media_id
    body_images: dict[str, str] = field(default_factory=dict)  # url -> filename (media/uploadimg)
    drafts: dict[str, Draft] = field(default_factory=dict)
    publish_jobs: dict[int, PublishJob] = field(default_factory=dict)
    # article_id -> {"publish_id", "title"s, "published_at", "urls"}
    articles: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Reads per (article msgid, day): {"int_page_read_user", "int_page_read_count", "share_user", ...}
    article_stats: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    sequence: int = 0
    # The outcome forced on the next publish jobs (control API): publish_status to report.
    publish_outcome: int = 0

    def next_id(self) -> int:
        self.sequence += 1
        return self.sequence


def content_store(app: App) -> ContentStore:
    if app.content is None:
        app.content = ContentStore()
    return app.content
