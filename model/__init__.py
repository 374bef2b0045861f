"""The learning side of soundalike: audio front end, network, encoder, trainer, evaluation.

No Qt and no ``app`` imports here (checked by import-linter).
"""
