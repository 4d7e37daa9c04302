"""Generate reference fixtures for the absolute position encodings (Tests/TrainerTests/Fixtures/).

Run (from the repo root, in a throw-away venv with the CPU torch build):

    python3 -m venv /work/venv-ref
    /work/venv-ref/bin/pip install torch==2.13.0+cpu safetensors numpy   # PIP_FIND_LINKS=/opt/wheels
    /work/venv-ref/bin/python scripts/reference/make_position_fixtures.py

BLOOM has no absolute positions, so transformers cannot be the reference here: this file is a
plain PyTorch restatement of Cohort's model (BLOOM blocks, fused QKV in BLOOM's [NH, 3, HD]
layout, tanh GELU, tied head) with ALiBi replaced by sinusoidal or learned positions added to the
token embeddings before the embedding LayerNorm. It writes, per encoding, a checkpoint folder
positions-tiny-<encoding>/ (config.json with the cohort_* keys, model.safetensors) and
reference.json (input_ids, logits, loss).
"""

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parents[2] / "Tests" / "TrainerTests" / "Fixtures"
SEED = 20261205
VOCAB, HIDDEN, LAYERS, HEADS, CONTEXT = 256, 16, 2, 2, 8
EPSILON = 1e-5
# Cohort's AbsolutePositions.sinusoidAmplitude: the RMS of N(0, 0.02) token embeddings.
SINUSOID_AMPLITUDE = 0.02 * math.sqrt(2)


def parameters(encoding: str, gen: torch.Generator) -> dict:
    def noise(*shape):
        return torch.randn(shape, generator=gen)

    c = HIDDEN
    p = {"word_embeddings.weight": 0.1 * noise(VOCAB, c)}
    if encoding == "learned":
        p["position_embeddings.weight"] = 0.1 * noise(CONTEXT, c)
    p["word_embeddings_layernorm.weight"] = 1 + 0.1 * noise(c)
    p["word_embeddings_layernorm.bias"] = 0.1 * noise(c)
    for layer in range(LAYERS):
        h = f"h.{layer}."
        p[h + "input_layernorm.weight"] = 1 + 0.1 * noise(c)
        p[h + "input_layernorm.bias"] = 0.1 * noise(c)
        p[h + "self_attention.query_key_value.weight"] = 0.1 * noise(3 * c, c)
        p[h + "self_attention.query_key_value.bias"] = 0.02 * noise(3 * c)
        p[h + "self_attention.dense.weight"] = 0.1 * noise(c, c)
        p[h + "self_attention.dense.bias"] = 0.02 * noise(c)
        p[h + "post_attention_layernorm.weight"] = 1 + 0.1 * noise(c)
        p[h + "post_attention_layernorm.bias"] = 0.1 * noise(c)
        p[h + "mlp.dense_h_to_4h.weight"] = 0.1 * noise(4 * c, c)
        p[h + "mlp.dense_h_to_4h.bias"] = 0.02 * noise(4 * c)
        p[h + "mlp.dense_4h_to_h.weight"] = 0.1 * noise(c, 4 * c)
        p[h + "mlp.dense_4h_to_h.bias"] = 0.02 * noise(c)
    p["ln_f.weight"] = 1 + 0.1 * noise(c)
    p["ln_f.bias"] = 0.1 * noise(c)
    return {name: t.double() for name, t in p.items()}


def sinusoids(time: int, c: int) -> torch.Tensor:
    t = torch.arange(time, dtype=torch.float64)[:, None]
    column = torch.arange(c)
    frequency = torch.pow(torch.tensor(10_000.0, dtype=torch.float64), -(column - column % 2).double() / c)
    angle = t * frequency
    return SINUSOID_AMPLITUDE * torch.where(column % 2 == 0, torch.sin(angle), torch.cos(angle))


def attention(x: torch.Tensor, weight, bias) -> torch.Tensor:
    b, t, c = x.shape
    hd = c // HEADS
    qkv = F.linear(x, weight, bias).view(b, t, HEADS, 3, hd)
    q, k, v = (qkv[:, :, :, i].transpose(1, 2) for i in range(3))  # [B,NH,T,HD]
    scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
    mask = torch.ones(t, t, dtype=torch.bool).tril()
    probabilities = scores.masked_fill(~mask, float("-inf")).softmax(-1)
    return (probabilities @ v).transpose(1, 2).reshape(b, t, c)


def forward(p: dict, encoding: str, ids: torch.Tensor) -> torch.Tensor:
    c = HIDDEN
    time = ids.shape[1]
    x = p["word_embeddings.weight"][ids]
    x = x + (sinusoids(time, c) if encoding == "sinusoidal" else p["position_embeddings.weight"][:time])
    x = F.layer_norm(x, (c,), p["word_embeddings_layernorm.weight"], p["word_embeddings_layernorm.bias"], EPSILON)
    for layer in range(LAYERS):
        h = f"h.{layer}."
        normed = F.layer_norm(x, (c,), p[h + "input_layernorm.weight"], p[h + "input_layernorm.bias"], EPSILON)
        context = attention(normed, p[h + "self_attention.query_key_value.weight"], p[h + "self_attention.query_key_value.bias"])
        x = x + F.linear(context, p[h + "self_attention.dense.weight"], p[h + "self_attention.dense.bias"])
        normed = F.layer_norm(x, (c,), p[h + "post_attention_layernorm.weight"], p[h + "post_attention_layernorm.bias"], EPSILON)
        wide = F.gelu(F.linear(normed, p[h + "mlp.dense_h_to_4h.weight"], p[h + "mlp.dense_h_to_4h.bias"]), approximate="tanh")
        x = x + F.linear(wide, p[h + "mlp.dense_4h_to_h.weight"], p[h + "mlp.dense_4h_to_h.bias"])
    x = F.layer_norm(x, (c,), p["ln_f.weight"], p["ln_f.bias"], EPSILON)
    return x @ p["word_embeddings.weight"].T


def config_json(encoding: str) -> dict:
    return {
        "architectures": ["BloomForCausalLM"], "model_type": "bloom", "vocab_size": VOCAB, "hidden_size": HIDDEN,
        "n_layer": LAYERS, "n_head": HEADS, "layer_norm_epsilon": EPSILON, "tie_word_embeddings": True,
        "cohort_context_length": CONTEXT, "cohort_max_context_length": 4 * CONTEXT,
        "cohort_position_encoding": encoding,
    }


def main() -> None:
    for index, encoding in enumerate(["sinusoidal", "learned"]):
        gen = torch.Generator().manual_seed(SEED + index)
        p = parameters(encoding, gen)
        ids = torch.randint(0, VOCAB, (2, CONTEXT), generator=gen)
        logits = forward(p, encoding, ids)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, VOCAB), ids[:, 1:].reshape(-1))
        folder = OUT / f"positions-tiny-{encoding}"
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {"transformer." + name: t.float().contiguous() for name, t in p.items()}
        save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
        (folder / "config.json").write_text(json.dumps(config_json(encoding), indent=2, sort_keys=True) + "\n")
        reference = {
            "notes": f"{encoding} positions; computed in float64 from the float32 weights saved beside it",
            "input_ids": ids.tolist(),
            "logits": [[[round(v, 7) for v in row] for row in seq] for seq in logits.tolist()],
            "loss": loss.item(),
        }
        (folder / "reference.json").write_text(json.dumps(reference) + "\n")
        print(f"{folder.name}: loss {loss.item():.6f}")


if __name__ == "__main__":
    main()
