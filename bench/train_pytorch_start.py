#!/usr/bin/env python3
"""The start of a CIFAR-10 run in PyTorch with resnet-dist's 30-epoch recipe, to compare training
curves (issue 22: is plain-56's slow start ours, or the network's?).

Optional tool, never needed by the build or the tests:

    /tmp/pt/bin/python bench/train_pytorch_start.py --arch plain56 --data .data/cifar10 --iterations 782
    /tmp/pt/bin/python bench/train_pytorch_start.py --arch resnet110 --warmup --iterations 1000

The recipe: batch 128, SGD lr 0.1 momentum 0.9 weight decay 1e-4 (every parameter), the per-pixel
mean of the training images subtracted (pixels / 255), 4-pixel zero padding after that, random 32
crop and flip; He-normal convolutions (fan_out), BN weight 1 bias 0, PyTorch's default fc; option-A
shortcuts (the network of compare_pytorch.py). `--warmup` adds the paper's warm-up for ResNet-110 as
resnet-dist runs it: lr 0.01 until an epoch's training error is below 80%, checked at the end of each
epoch, then 0.1. Prints the training error of every 100 iterations as JSON lines like resnet-dist's
metrics.jsonl.
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

from compare_pytorch import CifarResNet


def load(directory, names):
    raw = b"".join(open(os.path.join(directory, n), "rb").read() for n in names)
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3073)
    return records[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255, records[:, 0].astype(np.int64)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="plain56")
    p.add_argument("--data", default=".data/cifar10")
    p.add_argument("--iterations", type=int, default=782)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--warmup", action="store_true", help="lr 0.01 until an epoch's training error < 80%%")
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    x, y = load(a.data, [f"data_batch_{i}.bin" for i in range(1, 6)])
    x = torch.from_numpy(x - x.mean(axis=0, keepdims=True))
    y = torch.from_numpy(y)
    family = "plain" if a.arch.startswith("plain") else "resnet"
    model = CifarResNet(int(a.arch[len(family):]), "A", residual=family == "resnet")
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.ones_(m.weight)
            torch.nn.init.zeros_(m.bias)
    lr = 0.01 if a.warmup else 0.1
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(a.seed)
    per_epoch = (len(y) + 127) // 128
    errors, losses, epoch_errors = [], [], []
    order = None
    for it in range(a.iterations):
        if it % per_epoch == 0:
            order = torch.randperm(len(y), generator=generator)
        idx = order[(it % per_epoch) * 128:(it % per_epoch + 1) * 128]
        batch = F.pad(x[idx], (4, 4, 4, 4))
        n = len(idx)
        dx = torch.randint(0, 9, (n,), generator=generator)
        dy = torch.randint(0, 9, (n,), generator=generator)
        flip = torch.rand(n, generator=generator) < 0.5
        crops = torch.stack([batch[i, :, dy[i]:dy[i] + 32, dx[i]:dx[i] + 32] for i in range(n)])
        crops[flip] = crops[flip].flip(3)
        out = model(crops)
        loss = F.cross_entropy(out, y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        wrong = (out.argmax(1) != y[idx]).sum().item()
        errors.append(wrong / n)
        losses.append(loss.item())
        epoch_errors.append((wrong, n))
        if (it + 1) % 100 == 0:
            print(json.dumps({"kind": "train", "iteration": it + 1, "lr": lr, "loss": float(np.mean(losses)),
                              "error": float(np.mean(errors))}), flush=True)
            errors, losses = [], []
        if (it + 1) % per_epoch == 0:
            epoch_error = sum(w for w, _ in epoch_errors) / sum(c for _, c in epoch_errors)
            if lr < 0.1 and epoch_error < 0.8:
                lr = 0.1
                for group in opt.param_groups:
                    group["lr"] = lr
            epoch_errors = []


if __name__ == "__main__":
    main()
