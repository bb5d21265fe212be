"""Safe defaults for serving: the visitor allow-list and input limits.

When the app is exposed beyond loopback, visitors may only pick cached fine-tuned checkpoints
and the references listed in an allow-list file: ``$ACCVIZ_ALLOWLIST`` or
``<cache>/allowlist.txt``, one local path or hub id per line (``#`` starts a comment).
"""

from __future__ import annotations

import os
from pathlib import Path

from accviz.store import cache

MAX_INPUT_CHARS = 20_000  # far beyond 512 tokens; longer pastes are cut before tokenising


def allowlist_path() -> Path:
    return Path(os.environ.get("ACCVIZ_ALLOWLIST", cache.cache_dir() / "allowlist.txt"))


def allowed_models() -> list[str]:
    path = allowlist_path()
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry and entry not in entries:
            entries.append(entry)
    return entries


def clip_text(text: str, max_chars: int = MAX_INPUT_CHARS) -> tuple[str, bool]:
    """The text cut to max_chars characters, and whether it was cut."""
    text = text or ""
    return (text[:max_chars], True) if len(text) > max_chars else (text, False)
