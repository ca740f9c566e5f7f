"""Free-text, multi-turn music requests ("something chill like hotel california for a road trip"): a parser that
turns a sentence into a typed `Request` (songs and artists named, tags and their synonyms, exclusions, a count,
references to earlier turns), an answerer that fuses candidates from every source that fits by reciprocal rank
fusion with constraints enforced, the conversation state per chat and user, and the Music-CRS-style evaluation."""
