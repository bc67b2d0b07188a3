"""multipart/form-data bodies (material and media uploads): parsed into form fields and files.

WeChat's upload APIs take the file as the form field `media` (and a video's `description` as a
JSON form field). The request log keeps each file's name, type and size only, never its bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content_type: str
    data: bytes

    def summary(self) -> dict:
        return {"filename": self.filename, "content_type": self.content_type, "size": len(self.data),
                "sha256": hashlib.sha256(self.data).hexdigest()}


def is_multipart(content_type: str | None) -> bool:
    return (content_type or "").lower().startswith("multipart/form-data")


def multipart_parse(content_type: str, raw: bytes) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    """(form fields, files) of a multipart body; ValueError when it is not one."""
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw)
    if not message.is_multipart():
        raise ValueError("not a multipart body")
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = UploadedFile(filename=filename, content_type=part.get_content_type(), data=payload)
        else:
            fields[name] = payload.decode("utf-8", "replace")
    return fields, files
