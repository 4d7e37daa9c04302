"""PyTorch training-throughput baseline for a BLOOM-style (ALiBi) byte-level language model.

Run (in a venv with torch; transformers only needed for --hf):

    /work/venv-ref/bin/python benchmarks/pytorch_train.py --config S --threads 2 --steps 30 --warmup 3
    /work/venv-ref/bin/python benchmarks/pytorch_train.py --config M --threads 2 --hf
    python3 benchmarks/pytorch_train.py --device cuda --config L --steps 20   # on a GPU machine

The default model is written here by hand: embedding, embedding LayerNorm, pre-LN blocks (fused QKV,
causal softmax attention with ALiBi bias, output dense, 4x MLP with tanh-GELU), final LayerNorm and an
LM head tied to the embedding. --hf swaps in transformers' BloomForCausalLM with the same sizes.
Training is eager mode, SGD(lr=0.1, momentum=0.9), on random windows of Tiny Shakespeare bytes
(random bytes if the file is missing), in float32 (--tf32 lets matrix products use TF32 tensor
cores, as `cohort bench train --gpu-matrix-math tf32` does). Prints one JSON object; tokens_per_second counts only the
timed steps after warm-up; cpu_utilization and fastest_step_seconds help spot runs slowed by other
jobs on a shared machine.
"""

import argparse
import json
import math
import resource
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {  # d_model, layers, heads, context, batch
    "S": dict(d_model=256, layers=4, heads=4, context=128, batch=16),
    "M": dict(d_model=512, layers=6, heads=8, context=256, batch=8),
    "L": dict(d_model=1024, layers=24, heads=16, context=1024, batch=8),
}
DEFAULT_DATA = Path("/work/shared/data/tinyshakespeare.txt")
VOCAB = 256


def alibi_slopes(heads: int) -> torch.Tensor:
    """Slopes of the ALiBi paper, with BLOOM's rule for head counts that are not a power of two."""
    p = 2 ** math.floor(math.log2(heads))
    slopes = [2 ** (-8 * (i + 1) / p) for i in range(p)]
    slopes += [2 ** (-4 * (2 * i + 1) / p) for i in range(heads - p)]
    return torch.tensor(slopes)


def attention_bias(heads: int, context: int) -> torch.Tensor:
    """[heads, T, T] additive bias: slope * (key_pos - query_pos) on and below the diagonal, -inf above."""
    pos = torch.arange(context)
    rel = (pos[None, :] - pos[:, None]).float()
    bias = alibi_slopes(heads)[:, None, None] * rel
    return bias.masked_fill(rel > 0, float("-inf"))


class Block(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc_in, self.fc_out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        # BLOOM's fused layout: the 3d outputs are grouped per head as [q | k | v] of head_dim each.
        qkv = self.qkv(self.ln1(x)).view(b, t, self.heads, 3, d // self.heads).permute(3, 0, 2, 1, 4)
        att = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=bias)
        x = x + self.proj(att.transpose(1, 2).reshape(b, t, d))
        return x + self.fc_out(F.gelu(self.fc_in(self.ln2(x)), approximate="tanh"))


class AlibiLM(nn.Module):
    def __init__(self, d_model: int, layers: int, heads: int, context: int, **_):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, d_model)
        self.embed_ln, self.final_ln = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.blocks = nn.ModuleList(Block(d_model, heads) for _ in range(layers))
        self.register_buffer("bias", attention_bias(heads, context), persistent=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed_ln(self.embed(ids))
        bias = self.bias[:, : ids.shape[1], : ids.shape[1]]
        for block in self.blocks:
            x = block(x, bias)
        return self.final_ln(x) @ self.embed.weight.T  # tied LM head


def hf_model(d_model: int, layers: int, heads: int, **_):
    from transformers import BloomConfig, BloomForCausalLM

    config = BloomConfig(vocab_size=VOCAB, hidden_size=d_model, n_layer=layers, n_head=heads,
                         hidden_dropout=0.0, attention_dropout=0.0, tie_word_embeddings=True, use_cache=False)
    model = BloomForCausalLM(config)
    return lambda ids: model(ids).logits, model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", choices=CONFIGS, default="S")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=20, help="timed steps (after warm-up)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--hf", action="store_true", help="use transformers' BloomForCausalLM")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--tf32", action="store_true", help="matrix products on TF32 tensor cores (cuda)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="training text (random bytes if missing)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.manual_seed(args.seed)
    cfg = CONFIGS[args.config]
    if args.hf:
        forward, model = hf_model(**cfg)
    else:
        model = AlibiLM(**cfg)
        forward = model
    model.to(args.device)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    data = torch.frombuffer(bytearray(args.data.read_bytes()), dtype=torch.uint8).long() if args.data.exists() \
        else torch.randint(0, VOCAB, (1 << 20,))
    data = data.to(args.device)
    batch, context = cfg["batch"], cfg["context"]

    def step() -> float:
        t0 = time.perf_counter()
        starts = torch.randint(0, len(data) - context - 1, (batch,)).tolist()
        window = torch.stack([data[s : s + context + 1] for s in starts])
        logits = forward(window[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), window[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss = loss.item()
        step_times.append(time.perf_counter() - t0)
        return loss

    step_times = []
    losses = [step() for _ in range(args.warmup)]
    cpu0, start = time.process_time(), time.perf_counter()
    losses += [step() for _ in range(args.steps)]
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu0

    result = {
        "config": args.config, **cfg,
        "model": "transformers BloomForCausalLM" if args.hf else "hand-written AlibiLM",
        "parameters": sum(p.numel() for p in model.parameters()),
        "threads": args.threads, "steps": args.steps, "warmup": args.warmup, "device": args.device, "tf32": args.tf32,
        "tokens_per_second": batch * context * args.steps / elapsed,
        "step_seconds": elapsed / args.steps,
        "timed_seconds": elapsed,
        "fastest_step_seconds": min(step_times[args.warmup:]),
        # ~1.0 when nothing else competes for the cores; lower means the run shared the CPU.
        "cpu_utilization": cpu / (elapsed * args.threads),
        "first_loss": losses[0], "last_loss": losses[-1],
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "torch": torch.__version__,
    }
    if args.device == "cuda":
        result["gpu"] = torch.cuda.get_device_name()
        result["peak_gpu_memory_bytes"] = torch.cuda.max_memory_allocated()
    if args.hf:
        import transformers
        result["transformers"] = transformers.__version__
    print(json.dumps(result))


if __name__ == "__main__":
    main()
