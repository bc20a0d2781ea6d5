"""A fake OpenAI-compatible images server: `POST /v1/images/edits` as OpenAI documents it.

It validates like the real API (bearer key, multipart fields, a decodable image, known model and
response_format) and answers with a deterministic edit: the input with a band whose colour depends
on the prompt. Results come back as base64 or, with response_format=url, as a link it serves.

Per model, as OpenAI documents and answers (API reference createEdit; openai-python
``images.edit``: "response_format … only supported for dall-e-2, as GPT image models always return
base64-encoded images"): gpt-image-* refuse ``response_format`` with the 400 the service sends
(``unknown_parameter``, as reported verbatim in vercel/ai#6102 and nexu-io/open-design#5727);
dall-e-2 answers with a url unless asked for b64_json. The Qwen models stand for a vLLM-Omni server
(https://docs.vllm.ai/projects/vllm-omni/en/latest/serving/image_edit_api/): b64_json by default,
and its own fields (negative_prompt, seed, num_inference_steps, guidance_scale) accepted and kept
in ``extras`` for tests to read.
"""

from __future__ import annotations

import base64
import itertools
import re

from tests.servers.base import OVERSIZED, TIMEOUT, FakeServer, Fault, Reply, Request, edited

MODELS = ("Qwen/Qwen-Image-Edit-2509", "qwen-image-edit", "gpt-image-1", "dall-e-2")
EDITS = "/v1/images/edits"
SERVER_FIELDS = ("negative_prompt", "seed", "num_inference_steps", "guidance_scale")


def error(status: int, message: str, code: str | None, param: str | None = None) -> Reply:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return Reply.json(
        {"error": {"message": message, "type": kind, "param": param, "code": code}}, status
    )


def parse_multipart(request: Request) -> dict[str, tuple[str | None, bytes]]:
    """Form fields by name: (filename or None, bytes), as RFC 7578 frames them.

    Split by hand rather than with the `email` parser, which cost the fake 3.5 ms a request: in
    the benchmarks the fake shares the machine's cores with the run it measures."""
    content_type = request.headers.get("content-type", "")
    found = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/form-data") or not found:
        return {}
    fields: dict[str, tuple[str | None, bytes]] = {}
    delimiter = b"--" + found.group(1).encode("latin-1")
    for part in request.body.split(delimiter)[1:]:
        if part.startswith(b"--"):  # the close delimiter
            break
        head, _, data = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        disposition = ""
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-disposition":
                disposition = value
        params = dict(re.findall(r';\s*(\w+)="((?:[^"\\]|\\.)*)"', disposition))
        if "name" in params:
            fields[params["name"]] = (params.get("filename"), data)
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
        self.extras: list[dict[str, str]] = []  # the server-specific fields of each edit
        self._ids = itertools.count(1)

    @property
    def paid(self) -> int:
        return self.edits

    def fault_for(self, kind: str) -> Fault:
        busy = {"message": "Rate limit reached for requests", "type": "requests", "code": "rate"}
        return {
            "throttled": Fault(Reply.json({"error": busy}, 429, **{"Retry-After": "1"}), EDITS),
            "server_error": Fault(
                error(500, "The server had an error while processing your request.", None), EDITS
            ),
            "timeout": Fault(Reply(delay=TIMEOUT), EDITS),
            "timeout_after_edit": Fault(path=EDITS, late=TIMEOUT),
            "dead_link": Fault(
                Reply(404, b"not found", {"Content-Type": "text/plain"}), "/results/"
            ),
            "download_error": Fault(
                Reply(503, b"busy", {"Content-Type": "text/plain"}), "/results/"
            ),
            "not_an_image": Fault(
                Reply(200, b"<html>Access denied</html>", {"Content-Type": "text/html"}),
                "/results/",
            ),
            "oversized": Fault(
                Reply(200, b"\x89PNG" + b"\0" * (OVERSIZED - 4), {"Content-Type": "image/png"}),
                "/results/",
            ),
        }[kind]

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
        if model.startswith("gpt-image") and "response_format" in form:
            message = "Unknown parameter: 'response_format'."
            return error(400, message, "unknown_parameter", "response_format")
        default_format = b"url" if model == "dall-e-2" else b"b64_json"
        response_format = form.get("response_format", (None, default_format))[1].decode()
        if response_format not in ("b64_json", "url"):
            message = (
                f"Invalid value: '{response_format}'. Supported values are: 'url' and 'b64_json'."
            )
            return error(400, message, "invalid_value", "response_format")
        with self._lock:
            self.edits += 1
            self.extras.append({k: form[k][1].decode() for k in SERVER_FIELDS if k in form})
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
