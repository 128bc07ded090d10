"""casebot's edges: the command line and the Discord bot. They call the engine in ``embeddings``."""
