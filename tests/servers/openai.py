"""A fake OpenAI-compatible images server: `POST /v1/images/edits` as OpenAI documents it.

It validates like the real API (bearer key, multipart fields, a decodable image, known model and
response_format) and answers with a deterministic edit: the input with a band whose colour depends
on the prompt. Results come back as base64 or, with response_format=url, as a link it serves.
"""

from __future__ import annotations

import base64
import itertools
from email.parser import BytesParser
from email.policy import default

from tests.servers.base import FakeServer, Reply, Request, edited

MODELS = ("Qwen/Qwen-Image-Edit-2509", "qwen-image-edit")


def error(status: int, message: str, code: str | None, param: str | None = None) -> Reply:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return Reply.json(
        {"error": {"message": message, "type": kind, "param": param, "code": code}}, status
    )


def parse_multipart(request: Request) -> dict[str, tuple[str | None, bytes]]:
    """Form fields by name: (filename or None, bytes)."""
    head = f"Content-Type: {request.headers.get('content-type', '')}\r\n\r\n".encode()
    message = BytesParser(policy=default).parsebytes(head + request.body)
    fields: dict[str, tuple[str | None, bytes]] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return fields


class FakeOpenAIImages(FakeServer):
    env_prefix, api_path = "OPENAI", "/v1"

    def __init__(
        self,
        api_key: str = "sk-test-not-a-real-key",
        latency: float = 0.0,
        echo: bool = False,
        fail_every: int = 0,
    ) -> None:
        super().__init__(latency)
        self.api_key = api_key
        self.echo = (
            echo  # answer with the input image itself: costs the server nothing (benchmarks)
        )
        self.fail_every = fail_every  # every Nth edit answers 500 (a deterministic failure rate)
        self.results: dict[str, bytes] = {}
        self.edits = 0  # edits actually made (the paid calls)
        self._ids = itertools.count(1)

    def route(self, request: Request) -> Reply:
        if request.method == "GET" and request.path.startswith("/results/"):
            data = self.results.get(request.path.rsplit("/", 1)[-1])
            if data is None:
                return Reply(404, b"not found", {"Content-Type": "text/plain"})
            return Reply(200, data, {"Content-Type": "image/png"})
        if request.method != "POST" or request.path != "/v1/images/edits":
            return error(404, f"Invalid URL ({request.method} {request.path})", None)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return error(401, "Incorrect API key provided.", "invalid_api_key")
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return error(400, "Expected multipart/form-data.", None)
        form = parse_multipart(request)
        for required in ("image", "prompt"):
            if required not in form:
                message = f"Missing required parameter: '{required}'."
                return error(400, message, "missing_required_parameter", required)
        prompt = form["prompt"][1].decode("utf-8")
        model = form.get("model", (None, b""))[1].decode()
        if model not in MODELS:
            return error(404, f"The model '{model}' does not exist.", "model_not_found", "model")
        response_format = form.get("response_format", (None, b"b64_json"))[1].decode()
        if response_format not in ("b64_json", "url"):
            message = (
                f"Invalid value: '{response_format}'. Supported values are: 'url' and 'b64_json'."
            )
            return error(400, message, "invalid_value", "response_format")
        with self._lock:
            self.edits += 1
            failing = self.fail_every and self.edits % self.fail_every == 0
        if failing:
            return error(500, "The server had an error while processing your request.", None)
        try:
            result = form["image"][1] if self.echo else edited(form["image"][1], prompt)
        except OSError:
            return error(400, "Invalid image file or mode for image 1.", "invalid_image", "image")
        if response_format == "url":
            name = f"{next(self._ids)}.png"
            self.results[name] = result
            item = {"url": f"{self.url}/results/{name}"}
        else:
            item = {"b64_json": base64.b64encode(result).decode()}
        return Reply.json({"created": 1767225600, "data": [item]})
