"""The bundled seed corpus (corpus/*.txt), shipped as package data of `rag.bundled`."""
