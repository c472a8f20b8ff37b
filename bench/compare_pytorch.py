#!/usr/bin/env python3
"""Side-by-side speed check: the same CIFAR ResNet training step in PyTorch.

Optional tool, never needed by the build or the tests. Where torch is installed:

    python3 -m venv /tmp/pt && /tmp/pt/bin/pip install numpy /opt/wheels/torch-*.whl
    /tmp/pt/bin/python bench/compare_pytorch.py --arch resnet20 --threads 1 --batch-size 128
    .build/release/resnet-dist bench --arch resnet20 --threads 1 --batch-size 128

The network is the paper's CIFAR ResNet with option-A shortcuts and torchvision's parameter
names (conv1, bn1, layer{1,2,3}.{i}.conv1, ..., fc), i.e. the one resnet-dist trains, so
`model.load_state_dict(...)` accepts a resnet-dist checkpoint's model tensors (see README).
`--arch resnet18` / `resnet34` take torchvision's own ImageNet models at 224x224 (torchvision from
PyPI: `pip install --no-deps torchvision`; see torchvision_models below).
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ShortcutA(nn.Module):
    """Option A: subsample by 2 and zero-pad channels equally on both sides."""

    def __init__(self, planes):
        super().__init__()
        self.pad = planes // 4

    def forward(self, x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride, shortcut, residual=True):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.residual = residual
        self.shortcut = None
        if residual and (stride != 1 or inplanes != planes):
            if shortcut == "A":
                self.shortcut = ShortcutA(planes)
            else:
                self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
                self.shortcut = self.downsample

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + (self.shortcut(x) if self.shortcut is not None else x)
        return F.relu(out)


class CifarResNet(nn.Module):
    def __init__(self, depth, shortcut="A", residual=True, classes=10):
        super().__init__()
        assert (depth - 2) % 6 == 0
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        inplanes = 16
        for i, planes in enumerate([16, 32, 64]):
            blocks = []
            for b in range(n):
                stride = 2 if (i > 0 and b == 0) else 1
                blocks.append(BasicBlock(inplanes, planes, stride, shortcut, residual))
                inplanes = planes
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(64, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def torchvision_models():
    """torchvision's models module. A torchvision wheel built for another torch cannot load its C++
    operators (nms, roi_align), and its import fails registering their fake kernels; models and
    transforms need none of them, so that registration is skipped."""
    import sys
    import types
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    import torchvision.models
    return torchvision.models


def timed_steps(a, rank=0, world=1):
    """Median step time of a training step on this process's share of the batch (DDP when world > 1)."""
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    family = "plain" if a.arch.startswith("plain") else "resnet"
    depth = int(a.arch[len(family):])
    imagenet = depth in (18, 34)
    if imagenet:
        assert family == "resnet", "torchvision has no plain nets"
        model = getattr(torchvision_models(), a.arch)()
    else:
        model = CifarResNet(depth, a.shortcut, residual=(family == "resnet"))
    side, classes = (224, 1000) if imagenet else (32, 10)
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    local = a.batch_size // world
    x = torch.randn(local, 3, side, side).contiguous(memory_format=fmt)
    y = torch.randint(0, classes, (local,))
    times = []
    for step in range(a.warmup_steps + a.steps):
        if world > 1:
            torch.distributed.barrier()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
        if step >= a.warmup_steps:
            times.append(time.perf_counter() - t0)
    return statistics.median(times), sum(p.numel() for p in model.parameters())


def ddp_worker(rank, a, world, port, results):
    import os
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    med, params = timed_steps(a, rank, world)
    # The job's step is its slowest rank's.
    t = torch.tensor([med])
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    if rank == 0:
        results.put((t.item(), params))
    torch.distributed.destroy_process_group()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="resnet20")
    p.add_argument("--shortcut", default="A")
    p.add_argument("--batch-size", type=int, default=128, help="global batch (all DDP processes)")
    p.add_argument("--threads", type=int, default=1, help="threads per process")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup-steps", type=int, default=3)
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--ddp", type=int, default=1, help="DistributedDataParallel over N processes (gloo)")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    if a.ddp > 1:
        import socket
        import torch.multiprocessing as mp
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        ctx = mp.get_context("spawn")
        results = ctx.Queue()
        mp.start_processes(ddp_worker, args=(a, a.ddp, port, results), nprocs=a.ddp, start_method="spawn")
        med, params = results.get()
    else:
        med, params = timed_steps(a)
    result = {"framework": f"pytorch {torch.__version__}", "arch": a.arch, "threads": a.threads,
              "processes": a.ddp, "batch_size": a.batch_size, "channels_last": a.channels_last,
              "step_seconds_median": med, "images_per_s": a.batch_size / med, "parameters": params}
    if a.json:
        print(json.dumps(result))
    else:
        print(f"PyTorch {torch.__version__} {a.arch}, batch {a.batch_size}, {a.ddp} process(es) x {a.threads} thread(s), "
              f"{'channels-last' if a.channels_last else 'NCHW'}: {result['images_per_s']:.1f} images/s "
              f"(median step {med:.4f} s)")


if __name__ == "__main__":
    main()
