"""Cited answers: prompts, the answer engine, citation checking and the output guard."""
