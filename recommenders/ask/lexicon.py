"""The words of a request that are not names: synonyms of the corpus's Last.fm tags, filler words, and markers.

Kept as data, in one place, so that the parser, the evaluation's request generator and the tests read the same
vocabulary. Every tag named here is a tag of the Yes.com corpus (tests/test_ask_parse.py checks it on the corpus).
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    """The words of a long literal (easier to read and edit than a list of quoted words)."""
    return frozenset(text.split())


#: Phrases people type (normalised: lower case, no punctuation) → the corpus tags they mean. Longest match wins.
SYNONYMS: dict[str, tuple[str, ...]] = {
    # activities and occasions
    "road trip": ("driving",), "roadtrip": ("driving",), "the road": ("driving",), "drive": ("driving",),
    "driving": ("driving",), "the car": ("driving",), "cruising": ("driving",), "long drive": ("driving",),
    "studying": ("instrumental", "relaxing"), "study": ("instrumental", "relaxing"),
    "focus": ("instrumental", "relaxing"), "concentrate": ("instrumental", "relaxing"),
    "reading": ("instrumental", "relaxing"), "working": ("instrumental", "relaxing"),
    "sleep": ("relaxing", "mellow"), "sleeping": ("relaxing", "mellow"), "bedtime": ("relaxing", "mellow"),
    "relax": ("relaxing",), "relaxed": ("relaxing",), "relaxing": ("relaxing",), "unwind": ("relaxing",),
    "calm": ("relaxing", "mellow"), "calming": ("relaxing", "mellow"), "laid back": ("chill",),
    "chill": ("chill",), "chilled": ("chill",), "chill out": ("chill",), "chillout": ("chill",), "chilling": ("chill",),
    "workout": ("energetic", "upbeat"), "gym": ("energetic", "upbeat"), "running": ("energetic", "upbeat"),
    "exercise": ("energetic", "upbeat"), "pumped": ("energetic",), "high energy": ("energetic",),
    "energetic": ("energetic",), "energy": ("energetic",),
    "party": ("party",), "partying": ("party",), "dancing": ("dance",), "dance floor": ("dance", "party"),
    "club": ("dance", "party"), "dance": ("dance",),
    "dinner": ("romantic", "smooth"), "date night": ("romantic",), "date": ("romantic",), "romance": ("romantic",),
    "romantic": ("romantic",), "love songs": ("love songs",), "love song": ("love songs",),
    "sad": ("sad",), "heartbreak": ("sad", "melancholy"), "breakup": ("sad",), "break up": ("sad",),
    "crying": ("sad",), "depressing": ("sad", "melancholy"), "melancholy": ("melancholy",),
    "melancholic": ("melancholy",), "gloomy": ("melancholy", "dark"), "dark": ("dark",),
    "happy": ("happy",), "cheerful": ("happy",), "feel good": ("feel good",), "feelgood": ("feel good",),
    "good mood": ("happy", "feel good"), "uplifting": ("uplifting",), "sunny": ("happy", "summer"),
    "summer": ("summer",), "beach": ("summer",), "summertime": ("summer",),
    "rainy day": ("mellow", "melancholy"), "rain": ("mellow", "melancholy"),
    "upbeat": ("upbeat",), "up tempo": ("upbeat",), "uptempo": ("upbeat",), "lively": ("upbeat",),
    "mellow": ("mellow",), "gentle": ("mellow", "soft"), "quiet": ("mellow", "soft"), "soft": ("soft",),
    "slow": ("slow",), "smooth": ("smooth",), "groovy": ("groovy",), "funky": ("funky",), "sexy": ("sexy",),
    "angry": ("angry",), "heavy": ("heavy",), "epic": ("epic",), "fun": ("fun",), "catchy": ("catchy",),
    "nostalgic": ("nostalgic",), "nostalgia": ("nostalgic",), "emotional": ("emotional",),
    "sing along": ("sing along",), "singalong": ("sing along",), "karaoke": ("sing along",),
    "acoustic": ("acoustic",), "unplugged": ("acoustic",), "instrumental": ("instrumental",),
    "no vocals": ("instrumental",), "no lyrics": ("instrumental",), "without vocals": ("instrumental",),
    "without lyrics": ("instrumental",), "piano": ("piano",), "guitar": ("guitar",), "saxophone": ("saxophone",),
    "sax": ("saxophone",), "ballad": ("ballad",), "ballads": ("ballad",), "slow jams": ("slow jams",),
    "worship": ("worship",), "christmas": (),
    # eras
    "60s": ("60s",), "sixties": ("60s",), "1960s": ("60s",), "70s": ("70s",), "seventies": ("70s",),
    "1970s": ("70s",), "80s": ("80s",), "eighties": ("80s",), "1980s": ("80s",), "90s": ("90s",),
    "nineties": ("90s",), "1990s": ("90s",), "00s": ("00s",), "2000s": ("00s",), "noughties": ("00s",),
    "aughts": ("00s",), "oldies": ("oldies",), "old school": ("old school",), "retro": ("retro",),
    # genres (the corpus's spelling)
    "rock": ("rock",), "pop": ("pop",), "classic rock": ("classic rock",), "hard rock": ("hard rock",),
    "soft rock": ("soft rock",), "pop rock": ("pop rock",), "alternative": ("alternative",),
    "alt rock": ("alternative rock",), "alternative rock": ("alternative rock",), "indie": ("indie",),
    "indie rock": ("indie rock",), "country": ("country",), "classic country": ("classic country",),
    "modern country": ("modern country",), "new country": ("new country",), "country rock": ("country rock",),
    "soul": ("soul",), "rnb": ("rnb",), "r and b": ("rnb",), "rhythm and blues": ("rnb",), "metal": ("metal",),
    "heavy metal": ("heavy metal",), "nu metal": ("nu metal",), "jazz": ("jazz",), "smooth jazz": ("smooth jazz",),
    "hip hop": ("hip hop",), "hiphop": ("hip hop",), "rap": ("rap",), "blues": ("blues",), "funk": ("funk",),
    "electronic": ("electronic",), "electronica": ("electronic",), "edm": ("electronic", "dance"),
    "folk": ("folk",), "folk rock": ("folk rock",), "punk": ("punk",), "punk rock": ("punk rock",),
    "grunge": ("grunge",), "disco": ("disco",), "reggae": ("reggae",), "latin": ("latin",), "gospel": ("gospel",),
    "christian": ("christian",), "christian rock": ("christian rock",), "new wave": ("new wave",),
    "motown": ("motown",), "psychedelic": ("psychedelic",), "britpop": ("britpop",), "emo": ("emo",),
    "singer songwriter": ("singer songwriter",), "soundtrack": ("soundtrack",), "easy listening": ("easy listening",),
    "adult contemporary": ("adult contemporary",), "glam rock": ("glam rock",), "arena rock": ("arena rock",),
    "southern rock": ("southern rock",), "blues rock": ("blues rock",), "progressive rock": ("progressive rock",),
    "prog": ("progressive rock",), "post grunge": ("post grunge",), "80s rock": ("80s", "rock"),
    "90s rock": ("90s", "rock"), "80s pop": ("80s", "pop"), "rock n roll": ("rock n roll",),
    "rock and roll": ("rock n roll",), "female vocalists": ("female vocalists",),
    "female singers": ("female vocalists",), "male vocalists": ("male vocalists",), "top 40": ("top 40",),
    "lounge": ("lounge",), "urban": ("urban",), "linedance": ("linedance",),
}  # fmt: skip

#: Words that carry no request of their own ("give me some songs for…"); never searched as names on their own.
FILLERS = _words(
    """a an the some any something anything songs song tracks track music tunes tune stuff play playing give me i
    want wanna need would could can you please recommend suggest find show get put make let lets us we our my to
    for of with in on at from while during when and or that this those these is are be it its im am kind sort type
    vibe vibes mood feel feeling style genre playlist mix list listen listening hear just really very bit little lot
    good great nice cool perfect best hits tonight today now time day night also too maybe something s ones one
    what how about do so go got have has into up out off all bunch few some picks pick recommendations stuff sound
    sounds sounding tracklist thanks thank hey hi hello yo okay ok well then there here were was cover covers version
    versions"""
)

#: Words that start an exclusion clause ("no country", "not the eagles", "without ballads").
EXCLUDE = ("no more", "nothing by", "nothing from", "nothing like", "none of", "anything but", "dont want",
           "don t want", "do not want", "leave out", "not by", "no", "not", "without", "except", "avoid", "skip",
           "exclude", "minus", "drop", "lose", "ditch")  # fmt: skip
#: Words that ask for more of something ("more 80s", "heavier on the guitar").
MORE = ("more of", "more", "extra", "heavier on", "lean", "lots of", "mostly", "only")
#: Words that ask for less of something ("less rock").
LESS = ("less of", "less", "fewer", "not so much", "not as much", "lighter on", "tone down")
#: Words after which a song or an artist is named ("like hotel california", "by the eagles").
REFERENCE = ("similar to", "sounds like", "sound like", "such as", "in the style of", "reminds me of",
             "reminding me of", "along the lines of", "in the vein of", "inspired by", "based on", "the likes of",
             "like", "by")  # fmt: skip
#: "something else", "other ones": the same request, without what was shown.
ELSE = ("something else", "something different", "different ones", "other ones", "others", "different", "another",
        "new ones", "else")  # fmt: skip
#: Ordinals of a turn reference ("the second one", "number 3", "#3", "the last one").
ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "fifth": 5,
            "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8, "ninth": 9, "9th": 9,
            "tenth": 10, "10th": 10, "last": -1}  # fmt: skip
NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
           "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "dozen": 12}  # fmt: skip
#: The nouns a count is followed by ("10 songs", "five more").
COUNTED = ("songs", "song", "tracks", "track", "tunes", "picks", "more", "recommendations", "ones")

#: Last.fm tags that say nothing a request can mean (personal, praise, station names): never parsed from text.
JUNK_TAGS = _words(
    """favorites favorite favourites favourite awesome love beautiful cool amazing best good great fav <3 nice
    perfect faves favs aitch classic classics memories masterpiece sweet easy vocal loved other new hot legend
    brilliant english american usa uk british california spotify solx male female live cover covers sex rockin
    powerful"""
) | frozenset(
    ["great song", "favorite songs", "favourite songs", "my favorite", "fucking awesome", "love it",
     "love at first listen", "the best", "songs i absolutely love", "good stuff", "my favorites", "seen live",
     "major key tonality", "a subtle use of vocal harmony", "extensive vamping", "repetitive melodic phrasing",
     "heard on pandora", "slgdm", "malloy2000 playlist top songs classical to metal", "my soundtrack",
     "all time favourites", "top artists", "to classify", "whtd fm", "wrif fm", "wkqi fm", "wjlb fm",
     "brems tagg radio", "drjazzmrfunkmusic", "favorite artists", "my country", "my pop music", "radioparadise",
     "malesinger", "best songs ever", "radio music", "good song", "radiotsar approved", "77davez all tracks",
     "acclaimed music top 3000", "rolling stone 500 greatest songs of all time", "billboard number ones",
     "us top 40", "great lyrics", "guilty pleasure", "guilty pleasures", "high school", "2008", "2009", "2010",
     "male vocalist", "female vocalist", "male vocals", "female vocals", "romantica", "love", "my soundtrack"]
)  # fmt: skip
