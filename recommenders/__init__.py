"""Recommenders behind one interface (`recommenders.base.Recommender`): collaborative filtering over playlists
and content-based similarity over audio."""
