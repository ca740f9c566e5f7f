"""A session's tracks as files a group can keep: an extended M3U playlist and a JSON document.

M3U is what media players open (VLC, foobar2000, mpv): `#EXTM3U`, then per track an `#EXTINF:<seconds>,<artist> -
<title>` line and its location — here the track's Spotify link, which players that cannot stream it still show by
name. The JSON keeps what M3U cannot: who the pick was for and who liked it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from data.corpus import TrackInfo
from data.sessions import SessionState


def _m3u_text(value: str) -> str:
    """One-line text for an M3U field (a newline would start a new entry)."""
    return " ".join(value.replace(",", " ").split())


def session_playlist(state: SessionState, infos: Mapping[int, TrackInfo]) -> tuple[bytes, bytes]:
    """(M3U bytes, JSON bytes) of the session's played tracks, in play order."""
    names = {m.user_id: m.name for m in state.members}
    liked: dict[int, list[str]] = {}
    for e in state.events:
        if e.kind == "like":
            liked.setdefault(e.track_id, []).append(names.get(e.user_id, e.user_id))
    lines = ["#EXTM3U", f"#PLAYLIST:murecom session {state.id}"]
    tracks = []
    for e in state.played:
        info = infos.get(e.track_id)
        if info is None:
            continue
        seconds = round(info.duration_ms / 1000) if info.duration_ms else -1
        lines.append(f"#EXTINF:{seconds},{_m3u_text(info.artist)} - {_m3u_text(info.title)}")
        lines.append(info.url)
        tracks.append(
            {
                "title": info.title,
                "artist": info.artist,
                "url": info.url,
                "duration_seconds": seconds if seconds > 0 else None,
                "played_for": names.get(e.served_user_id or ""),
                "liked_by": liked.get(e.track_id, []),
            }
        )
    document = {"session": state.id, "members": [m.name for m in state.members], "tracks": tracks}
    return ("\n".join(lines) + "\n").encode(), json.dumps(document, indent=2, ensure_ascii=False).encode()
