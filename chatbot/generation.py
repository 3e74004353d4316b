"""Stage 5: generation backends behind one protocol, chosen by the `generator` setting."""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, Protocol

import httpx

from chatbot.batching import ATTENTION, Batcher, BatchRequest, HeadCache, register_attention
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
                 timeout_s: float = 20.0, batch_size: int = 8):
        if max_new_tokens < 1:
            raise ConfigError("max_new_tokens must be at least 1.")
        if batch_size < 1:
            raise ConfigError("batch_size must be at least 1 (1 turns batching off).")
        if dtype not in {"auto", "float32", "bfloat16", "float16"}:
            raise ConfigError(f"Unknown dtype {dtype!r}: use auto, float32, bfloat16 or float16.")
        self.model_dir, self.device, self.dtype = Path(model_dir), device, dtype
        self.max_new_tokens, self.timeout_s, self.batch_size = max_new_tokens, timeout_s, batch_size
        self.name = f"local:{self.model_dir.name}"
        self.supports_prefill = True
        self._model = self._tokenizer = self._batcher = self._heads = None
        self._system_ids: dict[str, list[int]] = {}  # a deployment has one or two system messages
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
                register_attention()
                model = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=dtype, local_files_only=True,
                                                             attn_implementation=ATTENTION)
                self._model = model.to(device).eval()
                self._heads = HeadCache(self._model)
                if self.batch_size > 1:
                    self._batcher = Batcher(self._model, self._tokenizer, self.batch_size, self._heads)

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

    def head_length(self, prompt: Prompt, input_ids) -> int:
        """How many leading tokens are the system message, which every prompt of a deployment shares: their keys and
        values are computed once (`HeadCache`). Measured on the 2-core dev machine: about 75 of 520 prompt tokens."""
        if not prompt.system:
            return 0
        ids = self._system_ids.get(prompt.system)
        if ids is None:
            _, tokenizer = self._load()
            system = tokenizer.apply_chat_template([{"role": "system", "content": prompt.system}], tokenize=False)
            ids = self._system_ids[prompt.system] = tokenizer(system, add_special_tokens=False)["input_ids"]
        prompt_ids = input_ids[0, : len(ids)].tolist()
        same = next((i for i, (a, b) in enumerate(zip(ids, prompt_ids)) if a != b), min(len(ids), len(prompt_ids)))
        return min(same, input_ids.shape[1] - 1)  # at least one token is read with the question

    def stream(self, prompt: Prompt) -> Iterator[str]:
        self._load()
        inputs = self.encode(prompt)
        head = self.head_length(prompt, inputs["input_ids"])
        if self._batcher is not None:
            return self._stream_batched(inputs, head)
        return self._stream_alone(inputs, head)

    def _stream_batched(self, inputs, head: int) -> Iterator[str]:
        request = self._batcher.submit(BatchRequest(inputs["input_ids"], self.max_new_tokens, head))
        try:
            while True:
                try:
                    kind, value = request.out.get(timeout=self.timeout_s)
                except queue.Empty:
                    raise GenerationError("The model stopped responding.") from None
                if kind == "end":
                    return
                if kind == "error":
                    raise GenerationError("The model failed while writing the answer.") from value
                yield value
        finally:
            request.stop.set()  # the consumer may stop early: the row leaves the batch at the next step

    def _stream_alone(self, inputs, head: int) -> Iterator[str]:
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        model, tokenizer = self._load()
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
                cache = self._heads.start(inputs["input_ids"], head)  # the shared head, as the batched path does
                model.generate(**inputs, past_key_values=cache, max_new_tokens=self.max_new_tokens, do_sample=False,
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
    """Any OpenAI-compatible chat-completions server (vLLM, TGI, `transformers serve`, llama.cpp, Ollama).

    The HTTP exchange runs on a helper thread and hands pieces over a queue, so that the patient's side keeps its
    own clock: the first piece must come within `first_token_s` (retries included), each later piece within
    `read_timeout_s` of the one before, and the whole answer within `total_s`. A read timeout alone is per network
    read, so a hung, trickling or garbage-sending server could otherwise hold a patient for minutes."""

    def __init__(self, base_url: str, model: str, api_key: str = "", max_new_tokens: int = 120,
                 connect_timeout_s: float = 3.0, read_timeout_s: float = 4.0, retries: int = 1,
                 client: httpx.Client | None = None, first_token_s: float = 3.0, total_s: float = 30.0):
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"openai_base_url must start with http:// or https://, got {base_url!r}.")
        if retries < 0:
            raise ConfigError("openai_retries cannot be negative.")
        if min(connect_timeout_s, read_timeout_s, first_token_s, total_s) <= 0:
            raise ConfigError("openai timeouts (connect, read, first_token, total) must be above zero.")
        self.base_url, self.model, self.max_new_tokens, self.retries = base_url.rstrip("/"), model, max_new_tokens, retries
        self.read_timeout_s, self.first_token_s, self.total_s = read_timeout_s, first_token_s, total_s
        self.name = f"openai:{model or 'default'}"
        self.supports_prefill = False  # not every OpenAI-compatible server can continue an assistant message
        # the helper thread's own network timeouts; the patient's deadlines are kept in stream(). A server may send
        # its headers only with the first piece, so a read may take as long as the first piece may.
        read = max(read_timeout_s, first_token_s)
        timeout = httpx.Timeout(connect=connect_timeout_s, read=read, write=read, pool=connect_timeout_s)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client or httpx.Client(timeout=timeout, headers=headers)

    def warm_up(self) -> None:
        """Nothing to load; the server owns the model."""

    def probe(self) -> bool:
        """Whether the server answers at all (GET /models within a second): health uses it to see it is back."""
        try:
            return self._client.get(f"{self.base_url}/models", timeout=1.0).status_code < 500
        except httpx.HTTPError:
            return False

    def _body(self, prompt: Prompt, stream: bool) -> dict:
        body = {"messages": chat_messages(prompt), "max_tokens": self.max_new_tokens, "temperature": 0,
                "stream": stream}
        if self.model:
            body["model"] = self.model
        return body

    def stream(self, prompt: Prompt) -> Iterator[str]:
        feed: queue.Queue[tuple[str, object]] = queue.Queue()
        cancel = threading.Event()
        threading.Thread(target=self._pump, args=(prompt, feed, cancel), name="openai-stream", daemon=True).start()
        started = time.monotonic()
        end_by, next_by, pieces = started + self.total_s, started + self.first_token_s, 0
        try:
            while True:
                wait = min(end_by, next_by) - time.monotonic()
                try:
                    kind, value = feed.get(timeout=max(wait, 0.0))
                except queue.Empty:
                    late = "the next piece" if pieces else "the first piece"
                    raise GenerationError(f"The model server was too slow ({late} did not come in time).") from None
                if kind == "end":
                    return
                if kind == "error":
                    raise value  # type: ignore[misc]
                next_by, pieces = time.monotonic() + self.read_timeout_s, pieces + 1
                yield value  # type: ignore[misc]
        finally:
            cancel.set()  # the helper stops at its next line or timeout and closes the connection

    def _pump(self, prompt: Prompt, feed: queue.Queue, cancel: threading.Event) -> None:
        """On the helper thread: POST, parse the stream, put ("piece", text) ... then ("end"|"error", ...)."""
        for attempt in range(self.retries + 1):
            started = False
            try:
                with self._client.stream("POST", f"{self.base_url}/chat/completions",
                                         json=self._body(prompt, True)) as response:
                    if response.status_code >= 400:
                        raise GenerationError(f"The model server answered HTTP {response.status_code}.")
                    for piece in _sse_content(_until(response.iter_lines(), cancel)):
                        started = True
                        feed.put(("piece", piece))
                feed.put(("end", None))
                return
            except (httpx.HTTPError, httpx.StreamError, GenerationError) as error:
                if started or attempt == self.retries or cancel.is_set():
                    feed.put(("error", _failure(error)))
                    return
                time.sleep(0.2 * (attempt + 1))
            except Exception as error:  # anything else from the client: the patient still gets the fallback
                feed.put(("error", _failure(error)))
                return

    def generate(self, prompt: Prompt) -> str:
        return "".join(self.stream(prompt))


def _failure(error: Exception) -> GenerationError:
    if isinstance(error, GenerationError):
        return error
    failure = GenerationError(f"The model server failed: {error.__class__.__name__}.")
    failure.__cause__ = error
    return failure


SSE_FIELDS = ("data:", ":", "event:", "id:", "retry:")


def _until(lines: Iterator[str], cancel: threading.Event) -> Iterator[str]:
    for line in lines:
        if cancel.is_set():
            return
        yield line


def _sse_content(lines: Iterator[str]) -> Iterator[str]:
    for line in lines:
        if not line.startswith("data:"):
            if line.strip() and not line.startswith(SSE_FIELDS):  # an HTML error page, plain JSON, noise
                raise GenerationError("The model server did not send an event stream.")
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
    "local": lambda s: LocalGenerator(s.model_dir, s.device, s.dtype, s.max_new_tokens, s.generation_timeout_s,
                                      s.batch_size),
    "openai": lambda s: OpenAIGenerator(s.openai_base_url, s.openai_model, s.openai_api_key, s.max_new_tokens,
                                        s.openai_connect_timeout_s, s.openai_read_timeout_s, s.openai_retries,
                                        first_token_s=s.openai_first_token_s, total_s=s.openai_total_s),
}


def make_generator(settings: Settings) -> Generator:
    try:
        return BACKENDS[settings.generator](settings)
    except KeyError:
        raise ConfigError(f"Unknown generator {settings.generator!r}: choose one of {', '.join(BACKENDS)}.") from None
