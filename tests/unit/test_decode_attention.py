"""The decoding attention (chatbot/batching.py) computes what PyTorch's fused attention computes."""

from __future__ import annotations

import types

import pytest

torch = pytest.importorskip("torch")

from chatbot.batching import decode_attention  # noqa: E402


def reference(query, key, value, allowed):
    groups = query.shape[1] // key.shape[1]
    key, value = key.repeat_interleave(groups, dim=1), value.repeat_interleave(groups, dim=1)
    out = torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=allowed)
    return out.transpose(1, 2)


@pytest.mark.parametrize("rows,heads,kv_heads", [(1, 9, 3), (4, 9, 3), (3, 8, 8)])
def test_one_query_per_row_matches_fused_attention_with_padding_masked(rows, heads, kv_heads):
    generator = torch.Generator().manual_seed(rows * heads)
    query = torch.randn(rows, heads, 1, 64, generator=generator)
    key = torch.randn(rows, kv_heads, 40, 64, generator=generator)
    value = torch.randn(rows, kv_heads, 40, 64, generator=generator)
    allowed = torch.ones(rows, 1, 1, 40, dtype=torch.bool)
    allowed[-1, ..., :15] = False  # the last row joined with a shorter prompt: left padding
    module = types.SimpleNamespace(num_key_value_groups=heads // kv_heads, is_causal=True)
    out, _ = decode_attention(module, query, key, value, allowed, scaling=64 ** -0.5)
    assert out.shape == (rows, 1, heads, 64)
    torch.testing.assert_close(out, reference(query, key, value, allowed), rtol=1e-5, atol=1e-5)


def test_padding_gets_no_weight_at_all():
    """Whatever the padded keys hold (here huge values), the row's output is its output without them."""
    query, key, value = torch.randn(1, 9, 1, 64), torch.randn(1, 3, 30, 64), torch.randn(1, 3, 30, 64)
    module = types.SimpleNamespace(num_key_value_groups=3, is_causal=True)
    alone, _ = decode_attention(module, query, key, value, None, scaling=0.125)
    padded_key = torch.cat([torch.full((1, 3, 10, 64), 1e4), key], dim=2)
    padded_value = torch.cat([torch.full((1, 3, 10, 64), 1e4), value], dim=2)
    allowed = torch.ones(1, 1, 1, 40, dtype=torch.bool)
    allowed[..., :10] = False
    padded, _ = decode_attention(module, query, padded_key, padded_value, allowed, scaling=0.125)
    torch.testing.assert_close(padded, alone, rtol=1e-6, atol=1e-6)
