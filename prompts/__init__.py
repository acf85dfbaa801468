"""Prompt templates (*.md), shipped as package data of `rag.prompt_files`; see rag/answer/prompts.py."""
