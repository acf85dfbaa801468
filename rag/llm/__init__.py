"""The language model: the chat client, the packaged GGUF and the local llama.cpp server."""
