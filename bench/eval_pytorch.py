#!/usr/bin/env python3
"""Evaluates a resnet-dist model file in PyTorch: the check that pretrained/*.safetensors loads
into a plain PyTorch CIFAR ResNet (torchvision names) and gives the stated test error.

Optional tool, never needed by the build or the tests:

    python3 -m venv /tmp/pt && /tmp/pt/bin/pip install numpy safetensors /opt/wheels/torch-*.whl
    /tmp/pt/bin/python bench/eval_pytorch.py pretrained/resnet20-cifar10.safetensors .data/cifar10
"""
import json
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from compare_pytorch import CifarResNet


def main(model_path, data_dir):
    tensors = load_file(model_path)
    with safe_open(model_path, "pt") as f:
        meta = f.metadata()
    model = CifarResNet(int(meta["depth"]), meta["shortcut"], residual=meta["family"] == "resnet")
    missing, unexpected = model.load_state_dict(
        {k: v for k, v in tensors.items() if not k.startswith("normalization.")}, strict=True), []
    model.eval()
    raw = np.fromfile(f"{data_dir}/test_batch.bin", dtype=np.uint8).reshape(-1, 3073)
    labels = torch.from_numpy(raw[:, 0].astype(np.int64))
    images = torch.from_numpy(raw[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32)) / 255
    mean = tensors["normalization.mean"]
    images = (images - mean) / tensors["normalization.std"].view(3, 1, 1) if "normalization.std" in tensors \
        else images - mean  # per-pixel mean image [3, 32, 32], the paper's
    correct = 0
    with torch.no_grad():
        for i in range(0, len(labels), 500):
            correct += (model(images[i:i + 500]).argmax(1) == labels[i:i + 500]).sum().item()
    print(json.dumps({"correct": correct, "total": len(labels), "error": 1 - correct / len(labels),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
