"""Generate BLOOM reference fixtures for the Swift tests (Tests/TrainerTests/Fixtures/).

Run (from the repo root, in a throw-away venv with the CPU torch build):

    python3 -m venv /work/venv-ref
    /work/venv-ref/bin/pip install torch==2.13.0+cpu transformers safetensors numpy   # PIP_FIND_LINKS=/opt/wheels
    /work/venv-ref/bin/python scripts/reference/make_bloom_fixtures.py

It builds a tiny random BloomForCausalLM (vocab 256, hidden 48, 2 layers, 3 heads) with fixed seeds
and non-trivial weights, then writes four folders:

    bloom-tiny/              F32 save_pretrained output, reference.json (input_ids, logits, loss,
                             ALiBi slopes for 3/6/8/12 heads) and grads.safetensors (d loss / d param)
    bloom-tiny-f16/          weights cast to float16, reference computed from the reloaded folder
    bloom-tiny-bf16/         weights cast to bfloat16, likewise
    bloom-tiny-untied-head/  F32 weights plus an explicit lm_head.weight (= word embeddings)

Every folder is reloaded with transformers at the end and its logits are checked against its reference.json.
"""

import json
import shutil
from pathlib import Path

import torch
import transformers
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import BloomConfig, BloomForCausalLM
from transformers.models.bloom.modeling_bloom import build_alibi_tensor

OUT = Path(__file__).resolve().parents[2] / "Tests" / "TrainerTests" / "Fixtures"
SEED = 20261129


def make_model() -> BloomForCausalLM:
    config = BloomConfig(
        vocab_size=256, hidden_size=48, n_layer=2, n_head=3, layer_norm_epsilon=1e-5,
        apply_residual_connection_post_layernorm=False, hidden_dropout=0.0, attention_dropout=0.0,
        tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=3, use_cache=False,
    )
    model = BloomForCausalLM(config).float()
    gen = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, p in model.named_parameters():  # tied lm_head is the same Parameter: listed once
            noise = torch.randn(p.shape, generator=gen)
            if "layernorm" in name or "ln_f" in name:
                p.copy_(1.0 + 0.1 * noise if name.endswith("weight") else 0.1 * noise)
            elif name.endswith("bias"):
                p.copy_(0.02 * noise)
            else:  # linear and embedding weights
                p.copy_(0.1 * noise)
    assert model.lm_head.weight is model.transformer.word_embeddings.weight
    return model.eval()


def alibi_slopes(n_head: int) -> list:
    # build_alibi_tensor gives slope * position; position 1 of a 2-token mask is the slope itself.
    alibi = build_alibi_tensor(torch.ones(1, 2, dtype=torch.long), n_head, torch.float32)
    return [float(v) for v in alibi.reshape(n_head, 2)[:, 1]]


def reference(model, input_ids) -> dict:
    with torch.no_grad():
        out = model(input_ids, labels=input_ids)
    return {
        "input_ids": input_ids.tolist(),
        "logits": [[[float(v) for v in row] for row in seq] for seq in out.logits.float()],
        "loss": float(out.loss),
        "notes": (
            f"transformers {transformers.__version__}, torch {torch.__version__}; "
            "BloomForCausalLM in eval mode, float32 math, no attention_mask; "
            "loss = model(input_ids, labels=input_ids).loss = mean cross-entropy over 2*9 next-token predictions."
        ),
    }


def reload(folder: Path) -> BloomForCausalLM:
    return BloomForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()


def write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj) + "\n")


def main() -> None:
    torch.manual_seed(SEED)
    model = make_model()
    input_ids = torch.randint(0, 256, (2, 10), generator=torch.Generator().manual_seed(SEED + 1))

    # 1. F32 model, reference, gradients.
    tiny = OUT / "bloom-tiny"
    shutil.rmtree(tiny, ignore_errors=True)
    model.save_pretrained(tiny, safe_serialization=True)
    ref = reference(model, input_ids)
    ref["alibi_slopes"] = alibi_slopes(3)
    for n in (8, 6, 12):
        ref[f"alibi_slopes_{n}"] = alibi_slopes(n)
    write_json(tiny / "reference.json", ref)

    model.zero_grad()
    model(input_ids, labels=input_ids).loss.backward()
    with safe_open(tiny / "model.safetensors", "pt") as f:
        saved_names = set(f.keys())
    grads = {name: p.grad.detach().float().contiguous() for name, p in model.named_parameters()}
    assert set(grads) == saved_names, (sorted(grads), sorted(saved_names))
    save_file(grads, tiny / "grads.safetensors", metadata={"format": "pt"})

    # 2. Half-precision copies; references computed from the reloaded (upcast) weights.
    for suffix, dtype in (("f16", torch.float16), ("bf16", torch.bfloat16)):
        folder = OUT / f"bloom-tiny-{suffix}"
        shutil.rmtree(folder, ignore_errors=True)
        make_model().to(dtype).save_pretrained(folder, safe_serialization=True)
        write_json(folder / "reference.json", reference(reload(folder), input_ids))

    # 3. F32 weights with an explicit lm_head.weight tensor.
    untied = OUT / "bloom-tiny-untied-head"
    shutil.rmtree(untied, ignore_errors=True)
    untied.mkdir(parents=True)
    shutil.copy(tiny / "config.json", untied / "config.json")
    tensors = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    tensors["lm_head.weight"] = model.transformer.word_embeddings.weight.detach().clone()
    save_file(tensors, untied / "model.safetensors", metadata={"format": "pt"})
    write_json(untied / "reference.json", ref)

    # Verification: every folder reproduces its own reference logits after reloading.
    for folder in (tiny, OUT / "bloom-tiny-f16", OUT / "bloom-tiny-bf16", untied):
        expected = json.loads((folder / "reference.json").read_text())
        with torch.no_grad():
            out = reload(folder)(input_ids, labels=input_ids)
        diff = (out.logits - torch.tensor(expected["logits"])).abs().max().item()
        assert diff < 1e-5, (folder.name, diff)
        with safe_open(folder / "model.safetensors", "pt") as f:
            dtypes = sorted({str(f.get_tensor(k).dtype) for k in f.keys()})
        print(f"{folder.name}: loss={expected['loss']:.6f} max|dlogits|={diff:.2e} dtypes={dtypes}")

    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file() and p.parent.name.startswith("bloom-tiny"))
    print(f"total fixture size: {total} bytes")


if __name__ == "__main__":
    main()
