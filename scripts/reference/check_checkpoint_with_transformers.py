"""Checks that transformers loads a Cohort checkpoint folder and scores text as Cohort does.

Run in a throw-away virtualenv with torch, transformers and safetensors:
    python scripts/reference/check_checkpoint_with_transformers.py CHECKPOINT_DIR TEXT_FILE CONTEXT
and compare the printed mean_loss with
    cohort eval --checkpoint CHECKPOINT_DIR --data TEXT_FILE --context CONTEXT --json
The file should hold exactly CONTEXT + 1 bytes (one window).
"""
import json
import sys

import torch
from transformers import BloomForCausalLM


def main() -> None:
    folder, text_path, context = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data = open(text_path, "rb").read()
    assert len(data) == context + 1, f"{text_path} must hold {context + 1} bytes, has {len(data)}"
    model = BloomForCausalLM.from_pretrained(folder, torch_dtype=torch.float32).eval()
    ids = torch.tensor([list(data)])
    with torch.no_grad():
        loss = model(ids, labels=ids).loss.item()
    print(json.dumps({"mean_loss": loss, "tokens": context}))


if __name__ == "__main__":
    main()
