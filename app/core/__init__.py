"""Qt-free application core: catalog, scanner, indexer, search, playback engine, model registry.

Long jobs are plain generators that yield progress; each yield is a cancellation point.
"""
