#!/usr/bin/env bash
# Real audio for murecom, from Debian packages (free licences), laid out as label/clip (GTZAN's layout):
#   $MUREC_HOME/audio-src/<label>/<file>.{ogg,opus}
# labels: wesnoth (orchestral, GPL-2+), warzone2100 (electronic/industrial, GPL-2+), singularity (electronic/ambient,
# CC-BY-SA). Downloads the .deb files with apt (no root needed for `apt-get download`; `apt-get update` needs root
# once on a fresh machine) and unpacks them with dpkg-deb -x into an ignored folder. Idempotent: a label whose folder
# already holds audio is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
home="${MUREC_HOME:-var}"
dest="$home/audio-src"
work="$home/audio-debs"
mkdir -p "$dest" "$work"

fetch() {  # package label
  local pkg="$1" label="$2"
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
  rm -rf "$tmp" && mkdir -p "$tmp" "$dest/$label.partial"
  dpkg-deb -x "$deb" "$tmp"
  find "$tmp" -type f \( -name '*.ogg' -o -name '*.opus' \) -exec mv -t "$dest/$label.partial" {} +
  rm -rf "$tmp" "$dest/$label" "$deb"
  mv "$dest/$label.partial" "$dest/$label"
  echo "get_audio: $label: $(ls "$dest/$label" | wc -l) clips"
}

fetch wesnoth-1.16-music wesnoth
fetch warzone2100-music warzone2100
fetch singularity-music singularity
