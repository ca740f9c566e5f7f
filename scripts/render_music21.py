"""Real compositions with composer labels, rendered to audio: pieces of the music21 corpus (BSD; the scores are
public-domain works) written as MIDI by music21 and played by Debian's fluidsynth through a General MIDI
soundfont, laid out as label/clip like the soundtracks:

    $MUREC_HOME/audio-src/music21-<composer>/<piece>.ogg

Used for training and evaluation with held-out labels (`murecom eval --audio`) and for the tag sanity check (are
renderings of Bach chorales and Beethoven quartets tagged classical?). Idempotent: a label whose folder holds audio
is skipped; a missing fluidsynth or soundfont skips the whole step with a note (the product works without it).

    .venv/bin/python scripts/render_music21.py [--per-composer 8]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import soundfile as sf
from music21 import common, corpus, instrument

COMPOSERS = ("bach", "palestrina", "monteverdi", "josquin")  # Baroque and Renaissance; small scores parse fast
SOUNDFONTS = (  # Debian fluid-soundfont-gm (MIT); the 6 MB timgm6mb-soundfont (GPL-2) only when it is missing: it
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",  # sounds synthetic enough that musicnn tags its strings "electronic"
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
)
PROGRAM = 48  # General MIDI "String Ensemble 1" for every part of every piece (see `strings`)
RATE = 22_050
MIN_SECONDS, MAX_SECONDS = 30.0, 360.0
MAX_SCORE_BYTES = 700_000  # music21 takes minutes to parse a large score (a Beethoven quartet): left out
PARSE_SECONDS = 20


def soundfont() -> str | None:
    return next((f for f in SOUNDFONTS if Path(f).exists()), None)


def render(midi: Path, out: Path, font: str) -> None:
    """MIDI → 22,050 Hz WAV through fluidsynth (faster than real time), then Ogg Vorbis written in blocks
    (libsndfile's Vorbis encoder crashes on one multi-minute write)."""
    wav = out.with_suffix(".wav")
    subprocess.run(
        ["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(RATE), "-F", str(wav), font, str(midi)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    y, rate = sf.read(str(wav), dtype="float32", always_2d=True)
    wav.unlink()
    if not MIN_SECONDS <= len(y) / rate <= MAX_SECONDS:
        raise ValueError(f"{len(y) / rate:.0f} s")
    y /= max(1.0, float(abs(y).max()))
    with sf.SoundFile(str(out), "w", rate, y.shape[1], format="OGG", subtype="VORBIS") as fh:
        for start in range(0, len(y), 1 << 16):
            fh.write(y[start : start + (1 << 16)])


def _score_size(entry: object) -> int:
    path = common.getCorpusFilePath() / str(getattr(entry, "sourcePath", ""))
    return path.stat().st_size if path.exists() else 0


def _too_slow(signum: int, frame: object) -> None:
    raise TimeoutError(f"parsing took over {PARSE_SECONDS} s")


def strings(score: object) -> object:
    """Every part played by one string-ensemble sound. The corpus's own instruments (voices, which music21 maps to
    arbitrary MIDI programs, a guitar for Bach's chorales) would make a composer label recognisable by timbre
    alone; with one sound for all, labels differ by the music itself."""
    for part in getattr(score, "parts", [score]):
        for old in list(part.recurse().getElementsByClass(instrument.Instrument)):
            old.activeSite.remove(old)
        ensemble = instrument.Instrument()
        ensemble.midiProgram = PROGRAM
        part.insert(0, ensemble)
    return score


def main() -> int:
    signal.signal(signal.SIGALRM, _too_slow)
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-composer", type=int, default=8)
    args = ap.parse_args()
    font = soundfont()
    if shutil.which("fluidsynth") is None or font is None:
        print("render_music21: fluidsynth or a GM soundfont is missing; music21 renderings skipped", file=sys.stderr)
        return 0

    dest = Path(os.environ.get("MUREC_HOME", "var")) / "audio-src"
    for composer in COMPOSERS:
        folder = dest / f"music21-{composer}"
        if folder.is_dir() and any(folder.iterdir()):
            continue
        partial = dest / f".music21-{composer}.partial"  # hidden: importers skip it until complete
        partial.mkdir(parents=True, exist_ok=True)
        done = 0
        seen: set[str] = set()
        for entry in sorted(corpus.search(composer, "composer"), key=lambda e: str(e.sourcePath)):
            if done == args.per_composer:
                break
            if str(entry.sourcePath) in seen:  # one piece per file: a file's entries can render the same music
                continue
            if Path(str(entry.sourcePath)).suffix == ".rntxt" or _score_size(entry) > MAX_SCORE_BYTES:
                continue  # a Roman-numeral analysis is chords, not the piece
            seen.add(str(entry.sourcePath))
            name = "".join(c if c.isalnum() else "_" for c in Path(str(entry.sourcePath)).stem.lower())
            out = partial / f"{name}.ogg"
            if out.exists():
                done += 1
                continue
            signal.alarm(PARSE_SECONDS)  # and a score that still takes too long is skipped
            try:
                score = strings(entry.parse())
                with tempfile.TemporaryDirectory() as tmp:
                    midi = Path(tmp) / "piece.mid"
                    score.write("midi", fp=str(midi))
                    render(midi, out, font)
                done += 1
            except Exception as exc:  # noqa: BLE001 - a piece music21 or fluidsynth cannot handle is skipped
                out.unlink(missing_ok=True)
                out.with_suffix(".wav").unlink(missing_ok=True)  # fluidsynth's output, when stopped mid-render
                print(f"render_music21: skipped {entry.sourcePath}: {type(exc).__name__}: {exc}", file=sys.stderr)
            finally:
                signal.alarm(0)
        partial.rename(folder)
        print(f"render_music21: music21-{composer}: {done} pieces")
    return 0


if __name__ == "__main__":
    sys.exit(main())
