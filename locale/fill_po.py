"""Fill locale/zh_Hans/LC_MESSAGES/django.po from zh_Hans_translations.py and every
locale/translations/*.py (one dict per feature, so features translate without touching one file),
and tidy both headers.

Run after `manage.py makemessages -l zh_Hans -l en`, then `manage.py compilemessages`.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from zh_Hans_translations import ZH_HANS  # noqa: E402


def all_translations() -> dict[str, str]:
    merged = dict(ZH_HANS)
    for path in sorted((HERE / "translations").glob("*.py")):
        if path.name == "__init__.py":
            continue
        spec = importlib.util.spec_from_file_location(f"translations_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        merged.update(module.ZH_HANS)
    return merged


_STRING = re.compile(r'^(msgid|msgstr|msgctxt|msgid_plural)?\s*"(.*)"\s*$')


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _unfuzzy(line: str) -> str:
    """A translated entry is no longer fuzzy: drop the flag (and makemessages' guess of the old msgid)."""
    if line.startswith("#,"):
        flags = [flag.strip() for flag in line[2:].split(",") if flag.strip() != "fuzzy"]
        return "#, " + ", ".join(flags)
    return line


def fill(path: Path, translations: dict[str, str], plural_forms: str, language: str) -> int:
    blocks = path.read_text(encoding="utf-8").split("\n\n")
    filled = 0
    out = []
    for block in blocks:
        lines = block.split("\n")
        msgid_parts: list[str] = []
        section = None
        msgstr_index = None
        for i, line in enumerate(lines):
            m = _STRING.match(line)
            if not m:
                continue
            if m.group(1):
                section = m.group(1)
                if section == "msgstr":
                    msgstr_index = i
            if section == "msgid":
                msgid_parts.append(m.group(2))
        msgid = "".join(msgid_parts)
        if msgid == "" and msgstr_index is not None:  # header
            block = "\n".join(line for line in lines if line != "#, fuzzy")
            block = re.sub(r'"Plural-Forms: [^"]*"', f'"Plural-Forms: {plural_forms}\\\\n"', block)
            block = re.sub(r'"Language: [^"]*"', f'"Language: {language}\\\\n"', block)
            out.append(block)
            continue
        key = msgid.replace('\\"', '"').replace("\\n", "\n")
        if key in translations and msgstr_index is not None:
            lines = lines[:msgstr_index] + [f'msgstr "{_quote(translations[key])}"']
            lines = [_unfuzzy(line) for line in lines if line != "#, fuzzy" and not line.startswith("#|")]
            filled += 1
        out.append("\n".join(lines))
    path.write_text("\n\n".join(out), encoding="utf-8")
    return filled


if __name__ == "__main__":
    zh = fill(HERE / "zh_Hans/LC_MESSAGES/django.po", all_translations(), "nplurals=1; plural=0;", "zh_Hans")
    fill(HERE / "en/LC_MESSAGES/django.po", {}, "nplurals=2; plural=(n != 1);", "en")
    print(f"zh_Hans: {zh} entries translated")
