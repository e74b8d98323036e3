"""Token NLLs from hidden states through the LM head, without ever building the full logits.

``-log softmax(h @ W.T)[target]`` is computed tile by tile: a block of positions against a block of the
vocabulary at a time, with a running (online) log-sum-exp in fp32, so each block of the LM head's weight is
read once per block of positions and the fp32 tile stays in cache (faster than log-softmax over whole rows
of logits; docs/speed.md has the figures).
"""

from __future__ import annotations

BLOCKS = {"cpu": (256, 8192), "other": (2048, 32768)}  # (positions, vocabulary entries) per tile


def token_nll(lm_head, hidden, targets, softcap: float | None = None):
    """NLL in nats (fp32) of ``targets[i]`` given ``hidden[i]``, for a linear ``lm_head``.

    Args:
        lm_head: the model's output embedding (``nn.Linear``; a bias is honoured).
        hidden: ``[n, hidden_size]`` final hidden states, on the LM head's device.
        targets: ``[n]`` token ids.
        softcap: Gemma-style final logit soft-capping, ``tanh(logits / c) * c``.
    """
    import torch
    import torch.nn.functional as F

    weight, bias = lm_head.weight, getattr(lm_head, "bias", None)
    rows, cols = BLOCKS["cpu" if weight.device.type == "cpu" else "other"]
    vocab = weight.shape[0]
    out = torch.empty(len(hidden), dtype=torch.float32, device=hidden.device)
    for r in range(0, len(hidden), rows):
        h, t = hidden[r : r + rows], targets[r : r + rows]
        run_max = torch.full((len(h),), float("-inf"), device=h.device)
        run_sum = torch.zeros(len(h), device=h.device)
        target_logit = torch.zeros(len(h), device=h.device)
        for v in range(0, vocab, cols):
            logits = F.linear(h, weight[v : v + cols], None if bias is None else bias[v : v + cols]).float()
            if softcap is not None:
                logits = torch.tanh(logits / softcap) * softcap
            new_max = torch.maximum(run_max, logits.amax(-1))
            run_sum = run_sum * torch.exp(run_max - new_max) + torch.exp(logits - new_max[:, None]).sum(-1)
            run_max = new_max
            # the target's logit, where it falls in this tile: a gather and a select, no host sync (GPU)
            in_tile = (t >= v) & (t < v + logits.shape[1])
            picked = logits.gather(1, (t - v).clamp(0, logits.shape[1] - 1)[:, None])[:, 0]
            target_logit = torch.where(in_tile, picked, target_logit)
        out[r : r + rows] = run_max + torch.log(run_sum) - target_logit
    return out
