#!/usr/bin/env python3
"""Checks an exported Cohort model with onnx's checker and runs it with onnxruntime.

Usage: run-onnxruntime.py MODEL.onnx IDS.bin BATCH LENGTH LOGITS.bin
IDS.bin holds BATCH x LENGTH little-endian int64 token ids; LOGITS.bin receives the logits as
little-endian float32 [BATCH, LENGTH, vocabulary]. Tests/ONNXExportTests compares them with the
Swift trainer's forward pass.
"""
import sys

import numpy as np
import onnx
import onnxruntime as ort

model_path, ids_path, batch, length, logits_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
# full_check runs strict shape inference, which catches a graph that only happens to run.
onnx.checker.check_model(onnx.load(model_path), full_check=True)
options = ort.SessionOptions()
options.intra_op_num_threads = 1  # test machines have two cores, shared with the test runner
session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
ids = np.fromfile(ids_path, dtype="<i8").reshape(batch, length)
(logits,) = session.run(["logits"], {"input_ids": ids})
assert logits.shape[:2] == (batch, length), f"logits have shape {logits.shape}"
logits.astype("<f4").tofile(logits_path)
