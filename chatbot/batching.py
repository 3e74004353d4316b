"""Continuous batching for the in-process model: the answers of several patients are decoded together.

On a CPU a decoding step of a small model costs far less per sequence in a batch (the weights are read once per
step either way), so decoding concurrent answers together multiplies the total tokens per second instead of making
each patient wait for the answers before theirs. Measured on the 2-core dev machine with the bundled 135M model in
bfloat16 and 700 cached tokens per row: a step of 8 rows takes 49 ms (163 tokens/s in total) against 24 ms for one
row (41 tokens/s), with the decoding attention below; with PyTorch's fused attention kernel it was 119 ms.

How: one loop on the compute thread (`chatbot/compute.py`) holds the running answers as rows of one left-padded
key/value cache. A new request is prefilled alone between two steps and joins the batch (its cache padded, or
the batch's, to the same length); a finished or abandoned row leaves at once. Each step decodes one token for
every row with each row's own position ids, the padding masked out. Greedy decoding with the same repetition
penalty as `LocalGenerator`'s plain path.

Same answer alone or in a batch? Not always to the last word, and here is why. `decode_attention` gives masked
padding a weight of exactly zero, and one padded step of the bundled model gives bit for bit the lone step's logits
(tests/integration/test_batching.py), though a longer sum may in general round differently. Over many steps a residue remains: bfloat16 matrix products are not always the same for a row whatever the batch
(the 1536->576 projection of this model changes kernel from 7 rows up on this CPU), and measured with 4 answers the
tokens agree for the first 20-30 and may differ after. Every sentence is verified against the sources either way.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from chatbot.compute import COMPUTE

log = logging.getLogger(__name__)
REPETITION_PENALTY = 1.1
ATTENTION = "chatbot_decode"  # the attention the local backend loads its model with: `decode_attention` below


def decode_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Attention for a decoding step (one new token per row) as two matrix products; longer queries go to sdpa.

    PyTorch's fused CPU kernel is slow for a single query in bfloat16: measured on the 2-core dev machine with the
    bundled model and 700 cached tokens, a step of 8 rows took 119 ms with it and 49 ms with this, and one row 41 ms
    against 24 ms. The model's query heads share key/value heads (grouped-query attention); the query is reshaped
    onto its key/value head instead of copying the keys. Scores and softmax are in float32. Padding (a row that joined
    the batch with a shorter prompt) is masked out."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if query.shape[2] != 1:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    rows, heads, _, size = query.shape
    kv_heads = key.shape[1]
    scores = torch.matmul(query.reshape(rows, kv_heads, heads // kv_heads, size), key.transpose(-1, -2)).float()
    scores = scores * (scaling if scaling is not None else size ** -0.5)
    if attention_mask is not None:  # (rows, 1, 1, keys): True or 0.0 where a row may look
        mask = attention_mask[..., -key.shape[2]:]
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask.float()
    probs = torch.softmax(scores, dim=-1).to(value.dtype)
    return torch.matmul(probs, value).reshape(rows, heads, 1, size).transpose(1, 2), None


def register_attention() -> None:
    """Makes `ATTENTION` a name `from_pretrained(attn_implementation=...)` accepts (the masks are sdpa's)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ATTENTION, decode_attention)
    AttentionMaskInterface.register(ATTENTION, sdpa_mask)


class HeadCache:
    """Keys and values of prompt heads that many prompts share (the system message), computed once and copied for
    each prompt that starts with them: the model then reads only the rest of the prompt. The head ends at the same
    token for a given system message whether or not it was cached before, so an answer does not depend on what was
    asked earlier. Used on the compute thread only."""

    def __init__(self, model: Any, size: int = 4):
        self.model, self.size = model, size
        self._caches: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self.hits = self.misses = 0  # for tests and benchmarks

    def start(self, input_ids: Any, head: int) -> Any:
        """A fresh cache that holds the first `head` tokens of `input_ids` (none when `head` is 0)."""
        import copy

        import torch
        from transformers import DynamicCache

        if head <= 0:
            return DynamicCache()
        key = tuple(input_ids[0, :head].tolist())
        cache = self._caches.get(key)
        if cache is None:
            self.misses += 1
            cache = DynamicCache()
            with torch.inference_mode():
                self.model(input_ids=input_ids[:, :head], past_key_values=cache, use_cache=True)
            self._caches[key] = cache
            while len(self._caches) > self.size:
                self._caches.popitem(last=False)
        else:
            self.hits += 1
            self._caches.move_to_end(key)
        return copy.deepcopy(cache)


@dataclass
class BatchRequest:
    """One answer: its prompt ids in, its text out as ("piece", text) ... then ("end", None) or ("error", exc)."""

    input_ids: Any  # torch.LongTensor, shape (1, prompt length)
    max_new_tokens: int
    head: int = 0  # leading tokens shared with other prompts (`HeadCache`)
    out: queue.Queue = field(default_factory=queue.Queue)
    stop: threading.Event = field(default_factory=threading.Event)
    generated: list[int] = field(default_factory=list)
    shown: str = ""
    seen: Any = None  # prompt + generated ids, for the repetition penalty


class Batcher:
    def __init__(self, model: Any, tokenizer: Any, max_batch: int = 8, heads: HeadCache | None = None):
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.model, self.tokenizer, self.max_batch = model, tokenizer, max_batch
        self.heads = heads or HeadCache(model)
        eos = model.generation_config.eos_token_id
        self.eos = set(eos if isinstance(eos, list) else [eos]) | {tokenizer.eos_token_id}
        self._pending: list[BatchRequest] = []
        self._lock = threading.Lock()
        self._running = False
        # the batch, touched on the compute thread only
        self._rows: list[BatchRequest] = []
        self._cache = self._mask = self._positions = self._last = None
        self.steps = self.max_seen = 0  # for tests and benchmarks: steps decoded, the largest batch

    def submit(self, request: BatchRequest) -> BatchRequest:
        with self._lock:
            self._pending.append(request)
            if not self._running:
                self._running = True
                COMPUTE.run_long(self._loop)
        return request

    # ------------------------------------------------------------------------------- on the compute thread
    def _loop(self) -> None:
        import torch

        with torch.inference_mode():
            while True:
                with self._lock:
                    room = self.max_batch - len(self._rows)
                    joining, self._pending = self._pending[:room], self._pending[room:]
                    if not joining and not self._rows:
                        self._running = False
                        return
                try:
                    for request in joining:
                        if not request.stop.is_set():
                            self._join(request)
                        COMPUTE.between_steps()
                    if self._rows:
                        self._step()
                    COMPUTE.between_steps()
                except Exception as error:  # every running answer learns of it; the loop starts afresh
                    log.error("batched decoding failed: %s", error.__class__.__name__)
                    for request in self._rows + joining:
                        request.out.put(("error", error))
                    self._reset()

    def _join(self, request: BatchRequest) -> None:
        import torch

        cache = self.heads.start(request.input_ids, request.head)
        logits = self.model(input_ids=request.input_ids[:, request.head:], past_key_values=cache,
                            use_cache=True).logits[:, -1, :]
        request.seen = request.input_ids[0].clone()
        length = request.input_ids.shape[1]
        token = self._pick(request, logits[0])
        if self._emit(request, token):
            return
        mask = torch.ones(1, length, dtype=torch.long, device=logits.device)
        position = torch.tensor([length], device=logits.device)
        last = torch.tensor([[token]], device=logits.device)
        if not self._rows:
            self._cache, self._mask, self._positions, self._last = cache, mask, position, last
        else:
            width = max(self._mask.shape[1], length)
            self._pad_left(self._cache, self._mask, width)
            self._pad_left(cache, mask, width)
            for mine, theirs in zip(self._cache.layers, cache.layers):
                mine.keys = torch.cat([mine.keys, theirs.keys])
                mine.values = torch.cat([mine.values, theirs.values])
            self._mask = torch.cat([self._left(self._mask, width), self._left(mask, width)])
            self._positions = torch.cat([self._positions, position])
            self._last = torch.cat([self._last, last])
        self._rows.append(request)
        self.max_seen = max(self.max_seen, len(self._rows))

    def _step(self) -> None:
        import torch

        mask = torch.cat([self._mask, torch.ones_like(self._last)], dim=1)
        logits = self.model(input_ids=self._last, attention_mask=mask, position_ids=self._positions[:, None],
                            past_key_values=self._cache, use_cache=True).logits[:, -1, :]
        self._mask, self._positions = mask, self._positions + 1
        self.steps += 1
        keep, tokens = [], []
        for i, request in enumerate(self._rows):
            token = self._pick(request, logits[i])
            if not self._emit(request, token):
                keep.append(i)
                tokens.append(token)
        if len(keep) < len(self._rows):
            self._keep(keep)
        if self._rows:
            self._last = torch.tensor([[t] for t in tokens], device=logits.device)

    def _pick(self, request: BatchRequest, logits: Any) -> int:
        """Greedy, after the repetition penalty over the prompt and the answer so far (as transformers does)."""
        import torch

        scores = logits.float()
        seen = request.seen
        picked = scores.gather(0, seen)
        scores = scores.scatter(0, seen, torch.where(picked < 0, picked * REPETITION_PENALTY,
                                                     picked / REPETITION_PENALTY))
        token = int(scores.argmax())
        request.seen = torch.cat([seen, torch.tensor([token], device=seen.device)])
        return token

    def _emit(self, request: BatchRequest, token: int) -> bool:
        """Hands the new text to the request; True when the request is finished (or abandoned)."""
        if request.stop.is_set():
            request.out.put(("end", None))
            return True
        if token in self.eos:
            self._flush(request, final=True)
            request.out.put(("end", None))
            return True
        request.generated.append(token)
        self._flush(request, final=False)
        if len(request.generated) >= request.max_new_tokens:
            self._flush(request, final=True)
            request.out.put(("end", None))
            return True
        return False

    def _flush(self, request: BatchRequest, final: bool) -> None:
        text = self.tokenizer.decode(request.generated, skip_special_tokens=True)
        if text.endswith("\ufffd") and not final:  # half of a multi-byte character: wait for the rest
            return
        if len(text) > len(request.shown) and text.startswith(request.shown):
            request.out.put(("piece", text[len(request.shown):]))
            request.shown = text

    def _keep(self, rows: list[int]) -> None:
        import torch

        self._rows = [self._rows[i] for i in rows]
        if not self._rows:
            self._reset()
            return
        index = torch.tensor(rows, device=self._mask.device)
        self._mask, self._positions = self._mask[index], self._positions[index]
        padding = int((self._mask.cumsum(dim=1) == 0).sum(dim=1).min())  # columns that are padding in every row
        self._mask = self._mask[:, padding:]
        for layer in self._cache.layers:
            layer.keys = layer.keys[index, :, padding:]
            layer.values = layer.values[index, :, padding:]

    def _reset(self) -> None:
        self._rows = []
        self._cache = self._mask = self._positions = self._last = None

    @staticmethod
    def _pad_left(cache: Any, mask: Any, width: int) -> None:
        import torch

        extra = width - mask.shape[1]
        if extra > 0:
            for layer in cache.layers:
                b, h, _, d = layer.keys.shape
                zeros = layer.keys.new_zeros(b, h, extra, d)
                layer.keys = torch.cat([zeros, layer.keys], dim=2)
                layer.values = torch.cat([zeros, layer.values], dim=2)

    @staticmethod
    def _left(mask: Any, width: int) -> Any:
        import torch

        extra = width - mask.shape[1]
        return torch.cat([mask.new_zeros(mask.shape[0], extra), mask], dim=1) if extra > 0 else mask
