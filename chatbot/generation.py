"""Stage 5: generation backends behind one protocol, chosen by the `generator` setting."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, Protocol

import httpx

from chatbot.compute import COMPUTE
from chatbot.config import Settings
from chatbot.errors import ConfigError, GenerationError, ModelMissingError
from chatbot.types import Prompt

log = logging.getLogger(__name__)
MODEL_META = "chatbot-model.json"  # written by `chatbot prepare`: where the weights came from, fastest CPU dtype


class Generator(Protocol):
    name: str

    def stream(self, prompt: Prompt) -> Iterator[str]: ...

    def generate(self, prompt: Prompt) -> str: ...


def chat_messages(prompt: Prompt) -> list[dict[str, str]]:
    return [{"role": "system", "content": prompt.system}] + [
        {"role": t.role, "content": t.content} for t in prompt.messages
    ]


class LocalGenerator:
    """A transformers model folder, in process. Greedy decoding: the same prompt gives the same answer."""

    def __init__(self, model_dir: Path, device: str = "cpu", dtype: str = "auto", max_new_tokens: int = 120,
                 timeout_s: float = 20.0):
        if max_new_tokens < 1:
            raise ConfigError("max_new_tokens must be at least 1.")
        if dtype not in {"auto", "float32", "bfloat16", "float16"}:
            raise ConfigError(f"Unknown dtype {dtype!r}: use auto, float32, bfloat16 or float16.")
        self.model_dir, self.device, self.dtype = Path(model_dir), device, dtype
        self.max_new_tokens, self.timeout_s = max_new_tokens, timeout_s
        self.name = f"local:{self.model_dir.name}"
        self.supports_prefill = True
        self._model = self._tokenizer = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        self._load()

    def _load(self):
        if self._model is None:
            COMPUTE.run(self._load_now)
        return self._model, self._tokenizer

    def _load_now(self) -> None:
        with self._lock:
            if self._model is None:
                if not (self.model_dir / "config.json").exists():
                    raise ModelMissingError(
                        f"The language model is not prepared at {self.model_dir}. Run `chatbot prepare` "
                        "(or `make run`), or set CHATBOT_MODEL to a model folder."
                    )
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                import torch
                from transformers import AutoModelForCausalLM, AutoTokenizer

                dtype = getattr(torch, self._resolved_dtype())
                device = ("cuda" if torch.cuda.is_available() else "cpu") if self.device == "auto" else self.device
                self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
                model = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=dtype, local_files_only=True)
                self._model = model.to(device).eval()

    def _resolved_dtype(self) -> str:
        if self.dtype != "auto":
            return self.dtype
        if self.device.startswith("cuda"):
            return "bfloat16"
        meta = self.model_dir / MODEL_META
        if meta.exists():
            return json.loads(meta.read_text()).get("cpu_dtype", "float32")
        return "float32"

    def encode(self, prompt: Prompt):
        model, tokenizer = self._load()
        text = tokenizer.apply_chat_template(chat_messages(prompt), add_generation_prompt=True, tokenize=False)
        inputs = tokenizer(text + prompt.prefill, return_tensors="pt", add_special_tokens=False)
        return {k: v.to(model.device) for k, v in inputs.items()}

    def stream(self, prompt: Prompt) -> Iterator[str]:
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        model, tokenizer = self._load()
        inputs = self.encode(prompt)
        stop = threading.Event()

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                COMPUTE.between_steps()  # e.g. the verifier embedding the sentence streamed just before
                return stop.is_set()

        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True,
                                        timeout=self.timeout_s)
        failure: list[BaseException] = []

        def run() -> None:
            if stop.is_set():  # the caller gave up while this waited its turn
                return
            try:
                model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False,
                               repetition_penalty=1.1, streamer=streamer,
                               stopping_criteria=StoppingCriteriaList([_Stop()]),
                               pad_token_id=tokenizer.eos_token_id)
            except BaseException as error:  # reported to the caller below
                failure.append(error)
                streamer.end()

        done = COMPUTE.run_long(run)
        try:
            for piece in streamer:
                yield piece
        except Exception as error:  # queue.Empty on timeout
            raise GenerationError("The model stopped responding.") from error
        finally:
            stop.set()  # the consumer may stop early: let the generate finish at its next step
            try:
                done.result(timeout=self.timeout_s)
            except Exception:  # still running after the timeout: it stops at its next step
                pass
        if failure:
            raise GenerationError("The model failed while writing the answer.") from failure[0]

    def generate(self, prompt: Prompt) -> str:
        return "".join(self.stream(prompt))


class OpenAIGenerator:
    """Any OpenAI-compatible chat-completions server (vLLM, TGI, `transformers serve`, llama.cpp, Ollama)."""

    def __init__(self, base_url: str, model: str, api_key: str = "", max_new_tokens: int = 120,
                 connect_timeout_s: float = 3.0, read_timeout_s: float = 10.0, retries: int = 1,
                 client: httpx.Client | None = None):
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"openai_base_url must start with http:// or https://, got {base_url!r}.")
        if retries < 0:
            raise ConfigError("openai_retries cannot be negative.")
        self.base_url, self.model, self.max_new_tokens, self.retries = base_url.rstrip("/"), model, max_new_tokens, retries
        self.name = f"openai:{model or 'default'}"
        self.supports_prefill = False  # not every OpenAI-compatible server can continue an assistant message
        timeout = httpx.Timeout(connect=connect_timeout_s, read=read_timeout_s, write=read_timeout_s,
                                pool=connect_timeout_s)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client or httpx.Client(timeout=timeout, headers=headers)

    def warm_up(self) -> None:
        """Nothing to load; the server owns the model."""

    def _body(self, prompt: Prompt, stream: bool) -> dict:
        body = {"messages": chat_messages(prompt), "max_tokens": self.max_new_tokens, "temperature": 0,
                "stream": stream}
        if self.model:
            body["model"] = self.model
        return body

    def stream(self, prompt: Prompt) -> Iterator[str]:
        for attempt in range(self.retries + 1):
            started = False
            try:
                with self._client.stream("POST", f"{self.base_url}/chat/completions",
                                         json=self._body(prompt, True)) as response:
                    if response.status_code >= 400:
                        raise GenerationError(f"The model server answered HTTP {response.status_code}.")
                    for piece in _sse_content(response.iter_lines()):
                        started = True
                        yield piece
                return
            except (httpx.TransportError, GenerationError) as error:
                if started or attempt == self.retries:
                    raise GenerationError(f"The model server failed: {error.__class__.__name__}.") from error
                time.sleep(0.2 * (attempt + 1))

    def generate(self, prompt: Prompt) -> str:
        return "".join(self.stream(prompt))


def _sse_content(lines: Iterator[str]) -> Iterator[str]:
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            choice = json.loads(data)["choices"][0]
            piece = (choice.get("delta") or {}).get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise GenerationError("The model server sent a malformed stream.") from None
        if piece:
            yield piece


BACKENDS: dict[str, Callable[[Settings], Generator]] = {
    "local": lambda s: LocalGenerator(s.model_dir, s.device, s.dtype, s.max_new_tokens, s.generation_timeout_s),
    "openai": lambda s: OpenAIGenerator(s.openai_base_url, s.openai_model, s.openai_api_key, s.max_new_tokens,
                                        s.openai_connect_timeout_s, s.openai_read_timeout_s, s.openai_retries),
}


def make_generator(settings: Settings) -> Generator:
    try:
        return BACKENDS[settings.generator](settings)
    except KeyError:
        raise ConfigError(f"Unknown generator {settings.generator!r}: choose one of {', '.join(BACKENDS)}.") from None
