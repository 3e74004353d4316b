"""Batched decoding in the local backend with the real bundled model: several patients at once, each answer the
same as it would be alone, none waiting for another's whole answer."""

from __future__ import annotations

import threading
import time

import pytest

from chatbot.compute import COMPUTE
from chatbot.generation import LocalGenerator
from chatbot.types import Prompt, Turn

pytestmark = pytest.mark.slow

QUESTIONS = ["How can I lower my blood pressure?", "What helps a fever?", "Do I need antibiotics for a cold?",
             "How do I stop a nosebleed?"]
PROMPTS = [Prompt(system="You are a clinic's assistant. Answer in two sentences.", messages=(Turn("user", q),))
           for q in QUESTIONS]
NEW_TOKENS = 40


@pytest.fixture(scope="module")
def batched(real_settings) -> LocalGenerator:
    return LocalGenerator(real_settings.model_dir, max_new_tokens=NEW_TOKENS, batch_size=4)


def concurrently(generator: LocalGenerator, prompts: list[Prompt]) -> list[tuple[str, float, float]]:
    """(text, seconds to the first piece, seconds to the end) per prompt, all asked at the same moment."""
    results: list = [None] * len(prompts)
    go = threading.Event()

    def ask(i: int) -> None:
        go.wait()
        started, first, text = time.monotonic(), None, []
        for piece in generator.stream(prompts[i]):
            first = first if first is not None else time.monotonic() - started
            text.append(piece)
        results[i] = ("".join(text), first, time.monotonic() - started)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(prompts))]
    for thread in threads:
        thread.start()
    go.set()
    for thread in threads:
        thread.join(300)
    return results


def test_one_at_a_time_the_batcher_writes_what_transformers_generate_writes(real_settings, batched: LocalGenerator):
    plain = LocalGenerator(real_settings.model_dir, max_new_tokens=NEW_TOKENS, batch_size=1)
    alone = [plain.generate(p) for p in PROMPTS[:2]]  # transformers' own generate
    assert all(text.strip() for text in alone)
    assert [batched.generate(p) for p in PROMPTS[:2]] == alone


@pytest.mark.xfail(strict=False, reason="known gap (chatbot/batching.py): over many steps bfloat16 rounding in a "
                                        "batch can still change a later word; a padded step alone is exact")
def test_answers_in_a_batch_are_the_same_as_alone(batched: LocalGenerator):
    alone = [batched.generate(p) for p in PROMPTS]
    together = [text for text, _, _ in concurrently(batched, PROMPTS)]
    assert together == alone


def test_concurrent_answers_are_decoded_together(batched: LocalGenerator):
    before = batched._batcher.steps
    results = concurrently(batched, PROMPTS)
    assert all(text.strip() for text, _, _ in results)
    assert batched._batcher.max_seen > 1, "the requests were never decoded together"
    assert batched._batcher.steps - before < len(PROMPTS) * NEW_TOKENS, "no step decoded two answers at once"


def test_a_padded_row_computes_exactly_what_it_would_alone(batched: LocalGenerator):
    """One decoding step of a short prompt batched (left-padded) with a longer one: the same logits, bit for bit."""
    import copy

    import torch
    from transformers import DynamicCache

    from chatbot import batching

    model, _ = batched._load()
    long_ids, short_ids = torch.arange(100, 150)[None], torch.arange(200, 230)[None]

    def prefill(ids):
        cache = DynamicCache()
        model(input_ids=ids, past_key_values=cache, use_cache=True)
        return cache

    def both_ways():
        return torch.equal(*one_step())

    @torch.inference_mode()
    def one_step():
        long_cache, short_cache = prefill(long_ids), prefill(short_ids)
        alone = model(input_ids=torch.tensor([[5]]), position_ids=torch.tensor([[30]]),
                      past_key_values=copy.deepcopy(short_cache), use_cache=True).logits[0, -1]
        batching.Batcher._pad_left(short_cache, torch.ones(1, 30), 50)
        for mine, theirs in zip(long_cache.layers, short_cache.layers):
            mine.keys, mine.values = torch.cat([mine.keys, theirs.keys]), torch.cat([mine.values, theirs.values])
        mask = torch.ones(2, 51, dtype=torch.long)
        mask[1, :20] = 0
        together = model(input_ids=torch.tensor([[5], [5]]), attention_mask=mask,
                         position_ids=torch.tensor([[50], [30]]), past_key_values=long_cache,
                         use_cache=True).logits[1, -1]
        return together, alone

    assert COMPUTE.run(both_ways)  # on the thread that runs every torch call (chatbot/compute.py)


def test_a_second_patient_does_not_wait_for_the_first_whole_answer(batched: LocalGenerator):
    long_prompt = Prompt(system=PROMPTS[0].system, messages=(Turn("user", "Tell me everything about fever."),))
    first_done: list[float] = []
    started = time.monotonic()

    def long_answer() -> None:
        for _ in batched.stream(long_prompt):
            pass
        first_done.append(time.monotonic() - started)

    thread = threading.Thread(target=long_answer)
    thread.start()
    pieces = batched.stream(PROMPTS[1])
    next(pieces)
    second_first = time.monotonic() - started
    pieces.close()
    thread.join(300)
    assert second_first < first_done[0], "the second answer started only after the first had finished"


def test_a_patient_who_leaves_frees_the_batch(batched: LocalGenerator):
    pieces = batched.stream(PROMPTS[2])
    next(pieces)
    pieces.close()
    deadline = time.monotonic() + 30
    while (batched._batcher._rows or batched._batcher._running) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not batched._batcher._rows and not batched._batcher._running  # the decoding loop has ended too


def test_the_shared_system_message_is_read_once_and_changes_no_answer(batched: LocalGenerator):
    """The system message's keys and values are kept (`HeadCache`): a later prompt with the same system message
    reads only its own part, and an answer is the same whether the head was cached before or not."""
    fresh = LocalGenerator(batched.model_dir, max_new_tokens=NEW_TOKENS, batch_size=4)
    first = fresh.generate(PROMPTS[3])  # nothing cached yet
    heads = fresh._heads
    assert (heads.misses, heads.hits) == (1, 0)
    assert fresh.head_length(PROMPTS[3], fresh.encode(PROMPTS[3])["input_ids"]) > 10
    assert fresh.generate(PROMPTS[0]) and fresh.generate(PROMPTS[3]) == first
    assert (heads.misses, heads.hits) == (1, 2)
