"""The index: chunking, embedding, the Chroma store, ingestion and hybrid retrieval."""
