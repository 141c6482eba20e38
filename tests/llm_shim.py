"""A local OpenAI-compatible chat server for tests: the embedded model answers, or the server
misbehaves on purpose (slow, junk, failing first)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch


class ChatShim:
    """``with ChatShim(model) as shim: shim.url`` serves ``POST /v1/chat/completions``.

    ``mode``: "model" (the model's greedy reply), "slow" (answers after ``delay`` s), "junk"
    (a page that is not JSON), "flaky" (HTTP 500 first, then the model). ``requests`` keeps
    every request body received."""

    def __init__(self, model=None, mode: str = "model", delay: float = 3.0) -> None:
        self.model, self.mode, self.delay = model, mode, delay
        self.requests: list[dict] = []
        shim = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                shim.requests.append(body)
                if self.path != "/v1/chat/completions":
                    return self._send(404, b"not found")
                if shim.mode == "slow":
                    time.sleep(shim.delay)
                if shim.mode == "junk":
                    return self._send(200, b"<html>maintenance</html>")
                if shim.mode == "flaky" and len(shim.requests) == 1:
                    return self._send(500, b"overloaded")
                text = shim.reply(body["messages"], int(body.get("max_tokens", 32)))
                answer = {"choices": [{"message": {"role": "assistant", "content": text}}]}
                self._send(200, json.dumps(answer).encode())

            def _send(self, code: int, payload: bytes) -> None:
                try:
                    self.send_response(code)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the "slow" mode)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def reply(self, messages, max_tokens: int) -> str:
        tok = self.model.tokenizer
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = torch.tensor([tok(text, add_special_tokens=False)["input_ids"]])
        with self.model.generation_lock, torch.no_grad():
            out = self.model.hf_model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_tokens,
                do_sample=False,
                pad_token_id=tok.pad_token_id or tok.eos_token_id,
            )
        return tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True)

    def __enter__(self) -> ChatShim:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
