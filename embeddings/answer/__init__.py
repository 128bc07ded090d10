"""The answer stage, one file a step, in the order a question passes through them:

question.py (the question value, made at the door; retrieval takes it too) -> candidates.py (the
candidate sentences, scored) -> decision.py (the gates, the reader from readers/, a policy, the
checks of checks.py and the combiner of combiner.py) -> compose.py (the Answer). Engine.ask
(embeddings/engine.py) runs them in this order. Nothing is imported here, so importing one step
loads only what it needs."""
