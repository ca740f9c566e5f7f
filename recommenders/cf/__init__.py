"""Collaborative filtering over playlists (and listeners): item-kNN, Word2Vec, Surprise KNNBaseline, ALS, blends.

Every model implements `recommenders.base.Recommender` (`recommenders.cf.common.CFRecommender`). By job:
`models` (the model list, a fresh model by name, loading any saved one), `paths` (the served paths, their artifacts
and per-path settings), `scale` (which candidates fit the corpus size), `training` (fit, choose, publish) and
`serving` (a published model as the bot serves it, and its `/about` line).
"""
