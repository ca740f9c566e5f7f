#!/usr/bin/env bash
# Real audio for murecom, from Debian packages (free licences), laid out as label/clip (GTZAN's layout):
#   $MUREC_HOME/audio-src/<label>/<file>.{ogg,opus}
# labels: wesnoth (orchestral, GPL-2+), warzone2100 (electronic/industrial, GPL-2+), singularity (electronic/ambient,
# CC-BY-SA), fretsonfire (rock/metal songs by Sectoid (GPL-2+) and Muldjord (CC-BY-SA 3.0); each song is shipped as
# a backing and a guitar stem, mixed here into one recording), openclonk (orchestral/ambient, CC-BY 3.0),
# warmux (mixed styles by several composers, GPL-2+), extremetuxracer (game music, GPL-2+). Downloads the .deb files with apt (no root needed for `apt-get download`; `apt-get update` needs root
# once on a fresh machine) and unpacks them with dpkg-deb -x into an ignored folder. Idempotent: a label whose folder
# already holds audio is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
home="${MUREC_HOME:-var}"
dest="$home/audio-src"
work="$home/audio-debs"
mkdir -p "$dest" "$work"

fetch() {  # package label [path pattern the clips must match, e.g. '*/music/*'] [mix]
  local pkg="$1" label="$2" pattern="${3:-*}" mix="${4:-}"
  if [ -d "$dest/$label" ] && [ -n "$(ls -A "$dest/$label" 2>/dev/null)" ]; then
    return 0
  fi
  ( cd "$work" && { ls "${pkg}"_*.deb >/dev/null 2>&1 || apt-get download -q "$pkg" >/dev/null 2>&1 || {
      [ "$(id -u)" = 0 ] && apt-get update -qq >/dev/null && apt-get download -q "$pkg" >/dev/null; }; } )
  local deb
  deb=$(ls "$work/${pkg}"_*.deb 2>/dev/null | head -n 1)
  if [ -z "$deb" ]; then
    echo "get_audio: could not download $pkg (audio recommendations will use what is available)" >&2
    return 0
  fi
  local tmp="$work/x-$label"
  rm -rf "$tmp" && mkdir -p "$tmp" "$dest/.$label.partial"
  dpkg-deb -x "$deb" "$tmp"
  if [ -n "$mix" ]; then
    mix_stems "$tmp" "$dest/.$label.partial"
  else
    find "$tmp" -type f -path "$pattern" \( -name '*.ogg' -o -name '*.opus' \) -exec mv -t "$dest/.$label.partial" {} +
  fi
  rm -rf "$tmp" "$dest/$label" "$deb"
  mv "$dest/.$label.partial" "$dest/$label"
  echo "get_audio: $label: $(ls "$dest/$label" | wc -l) clips"
}

mix_stems() {  # folder-with-song-folders out: each folder's stems (song.ogg + guitar.ogg + ...) summed into one file
  "${PYTHON:-.venv/bin/python}" - "$1" "$2" <<'PY'
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

src, out = Path(sys.argv[1]), Path(sys.argv[2])
for folder in sorted({p.parent for p in src.rglob("*.ogg")}):
    stems = [sf.read(str(p), dtype="float32", always_2d=True) for p in sorted(folder.glob("*.ogg"))]
    rate = stems[0][1]
    n = max(len(y) for y, _ in stems)
    mix = sum(np.pad(y, ((0, n - len(y)), (0, 0))) for y, r in stems if r == rate)
    mix /= max(1.0, float(np.abs(mix).max()))  # summed stems can clip: scale the song down, never distort it
    name = "".join(c if c.isalnum() else "_" for c in folder.name.lower()).strip("_")
    # in blocks: libsndfile's Vorbis encoder crashes on one multi-minute write
    with sf.SoundFile(str(out / f"{name}.ogg"), "w", rate, mix.shape[1], format="OGG", subtype="VORBIS") as fh:
        for start in range(0, n, 1 << 16):
            fh.write(mix[start : start + (1 << 16)])
PY
}

fetch wesnoth-1.16-music wesnoth
fetch warzone2100-music warzone2100
fetch singularity-music singularity
fetch fretsonfire-songs-sectoid fretsonfire-sectoid '*' mix
fetch fretsonfire-songs-muldjord fretsonfire-muldjord '*' mix
fetch openclonk-data openclonk '*/Music.ocg/*'
fetch warmux-data warmux '*/music/*'
fetch extremetuxracer-data extremetuxracer '*/music/*'

# pieces of the music21 corpus rendered with fluidsynth (composer labels; skipped with a note without fluidsynth)
"${PYTHON:-.venv/bin/python}" scripts/render_music21.py
