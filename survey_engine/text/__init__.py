"""Free-text analysis: sentence embeddings with a content-addressed cache, and themes (clusters
labelled with class-based TF-IDF terms).

Heavy dependencies (torch, sentence-transformers) are imported only when a model is first loaded.
"""
