"""The tiled LM head: token NLLs equal a full log-softmax, whatever the tiling."""

from __future__ import annotations

import pytest
import torch

from qaq_datasets.scoring import lm_head


@pytest.mark.parametrize("blocks", [(3, 7), (16, 50), (1000, 100_000)])  # many tiles, ragged tiles, one tile
@pytest.mark.parametrize("softcap,bias", [(None, False), (5.0, False), (None, True)])
def test_token_nll_matches_full_log_softmax(monkeypatch, blocks, softcap, bias):
    torch.manual_seed(0)
    head = torch.nn.Linear(16, 101, bias=bias)  # 101: the vocabulary is not a multiple of any block
    hidden = torch.randn(37, 16) * 3
    targets = torch.randint(0, 101, (37,))
    targets[:3] = torch.tensor([0, 100, 50])  # first entry, last entry of the ragged last tile
    logits = head(hidden)
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    expected = -torch.log_softmax(logits.double(), -1).gather(1, targets[:, None])[:, 0]
    monkeypatch.setitem(lm_head.BLOCKS, "cpu", blocks)
    with torch.inference_mode():
        got = lm_head.token_nll(head, hidden, targets, softcap)
    assert got.dtype == torch.float32 and got.shape == (37,)
    assert torch.max(torch.abs(got.double() - expected)).item() < 1e-4


def test_token_nll_is_fp32_for_bf16_heads():
    torch.manual_seed(0)
    head = torch.nn.Linear(8, 30, bias=False).to(torch.bfloat16)
    hidden = torch.randn(5, 8, dtype=torch.bfloat16)
    targets = torch.arange(5)
    with torch.inference_mode():
        got = lm_head.token_nll(head, hidden, targets)
    expected = -torch.log_softmax(head(hidden).float(), -1)[torch.arange(5), targets]
    assert got.dtype == torch.float32
    assert torch.allclose(got, expected, atol=1e-5)
