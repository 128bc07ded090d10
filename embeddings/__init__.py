"""casebot's engine: seeds -> documents -> chunks -> vectors -> index -> cited answers.

Nothing in this package imports discord or a CLI library; the edges live in ``bot/``.
"""
