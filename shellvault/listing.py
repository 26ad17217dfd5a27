"""What `shellvault list` shows: profiles, stored keys and cached sessions, and its renderings.

Answered from the config, the key index and the cache folder: no keystore reads, so it stays fast
with thousands of profiles. The JSON shape is documented in docs/list-json.md.
"""

from __future__ import annotations

import json
from typing import Any

from shellvault.app import App
from shellvault.credentials import format_time_left, rfc3339


def profile_names(app: App) -> list[str]:
    """Names only, for pickers and shell completion: the config's, then key-only profiles."""
    names = list(app.config)
    names += sorted(p for p in app.keystore.index.read().keys if p not in app.config)
    return names


def collect(app: App, now: float) -> list[dict[str, Any]]:
    stored = app.keystore.index.read()
    sessions: dict[str, list[dict[str, Any]]] = {}

    def note(profile: str, kind: str, store: str, expires: int | None) -> None:
        if expires is None or expires <= now:
            return
        sessions.setdefault(profile, []).append(
            {
                "kind": kind,
                "store": store,
                "expires": rfc3339(expires),
                "expires_epoch": expires,
                "seconds_left": int(expires - now),
            }
        )

    for _, entry in app.cache.entries():
        note(entry.profile, entry.kind, "cache", entry.expires)
    for meta in stored.sessions.values():
        expires = meta.get("expires")
        note(
            str(meta.get("profile")),
            "session-token",
            "keystore",
            expires if isinstance(expires, int) else None,
        )

    names = list(app.config)
    names += sorted(p for p in stored.keys | set(sessions) if p not in app.config)
    rows = []
    for name in names:
        profile = app.config.profiles.get(name)
        rows.append(
            {
                "profile": name,
                "key_stored": name in stored.keys,
                "source_profile": profile.source_profile if profile else None,
                "role_arn": profile.role_arn if profile else None,
                "region": profile.region if profile else None,
                "sessions": sorted(sessions.get(name, []), key=lambda s: s["expires_epoch"]),
            }
        )
    return rows


def render_table(rows: list[dict[str, Any]]) -> str:
    table = [("Profile", "Credentials", "Sessions")]
    for row in rows:
        if row["key_stored"]:
            credentials = "stored key"
        elif row["source_profile"]:
            credentials = f"via {row['source_profile']}"
        else:
            credentials = "-"
        sessions = ", ".join(
            f"{s['kind']}:{format_time_left(s['seconds_left'])}" for s in row["sessions"]
        )
        table.append((row["profile"], credentials, sessions or "-"))
    widths = [max(len(r[i]) for r in table) for i in range(2)]
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c}".rstrip() for a, b, c in table]
    return "\n".join(lines) + "\n"


def render_alfred(rows: list[dict[str, Any]]) -> str:
    """Alfred Script Filter JSON: one item per profile, `arg` being the profile name."""
    items = []
    for row in rows:
        details = [row["role_arn"] or ("stored key" if row["key_stored"] else "")]
        if row["sessions"]:
            details.append(f"session {format_time_left(row['sessions'][-1]['seconds_left'])} left")
        items.append(
            {
                "uid": row["profile"],
                "title": row["profile"],
                "subtitle": " · ".join(d for d in details if d),
                "arg": row["profile"],
                "autocomplete": row["profile"],
            }
        )
    return json.dumps({"items": items}, indent=2) + "\n"
