"""The corpus: database models, engine, importers, name search and the read API recommenders use.

Everything else in murecom reads or writes the corpus through this package only.
"""
