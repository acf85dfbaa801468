"""Real servers for integration tests, run as subprocesses on 127.0.0.1:
- `chroma run` (Chroma's own server from the chromadb wheel);
- an OpenAI-compatible /v1/embeddings endpoint serving the real packaged MiniLM.

    python -m tests.integration.servers embed PORT
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(url)


@contextmanager
def process(cmd: list[str], ready_url: str, log: Path) -> Iterator[subprocess.Popen]:
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
        try:
            wait_http(ready_url, proc)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def chroma_server(path: Path) -> Iterator[str]:
    port = free_port()
    chroma = str(Path(sys.executable).parent / "chroma")
    cmd = [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with process(cmd, f"{url}/api/v2/heartbeat", path.parent / "chroma.log"):
        yield url


@contextmanager
def embeddings_server(log: Path) -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "-m", "tests.integration.servers", "embed", str(port)]
    url = f"http://127.0.0.1:{port}/v1"
    with process(cmd, f"{url}/models", log):
        yield url


def serve_embeddings(port: int) -> None:
    from rag.index.embed import LocalEmbedder, packaged_model_dir

    embedder = LocalEmbedder(packaged_model_dir())

    class Handler(BaseHTTPRequestHandler):
        def _send(self, obj: object) -> None:
            body = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            self._send({"object": "list", "data": [{"id": "all-MiniLM-L6-v2", "object": "model"}]})

        def do_POST(self) -> None:  # noqa: N802
            req = json.loads(self.rfile.read(int(self.headers["content-length"])))
            texts = [req["input"]] if isinstance(req["input"], str) else req["input"]
            data = [
                {"object": "embedding", "index": i, "embedding": v}
                for i, v in enumerate(embedder.embed(texts))
            ]
            self._send(
                {
                    "object": "list",
                    "data": data,
                    "model": req.get("model"),
                    "usage": {"prompt_tokens": 0, "total_tokens": 0},
                }
            )

        def log_message(self, *args: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    if sys.argv[1:2] == ["embed"]:
        serve_embeddings(int(sys.argv[2]))
