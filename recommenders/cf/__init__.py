"""Collaborative filtering over playlists (and listeners): item-kNN, Word2Vec, Surprise KNNBaseline, ALS, blends.

Every model implements `recommenders.base.Recommender`; `recommenders.cf.registry` knows them by name, trains,
evaluates and publishes them, and loads whichever class a saved folder holds.
"""
