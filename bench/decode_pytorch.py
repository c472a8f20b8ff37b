#!/usr/bin/env python3
"""Decode + augment speed of torchvision's ImageFolder and transforms, the input side of a
PyTorch ImageNet run, for comparison with `resnet-dist bench --decode`.

Optional tool, never needed by the build or the tests:

    /tmp/pt/bin/pip install pillow && /tmp/pt/bin/pip install --no-deps torchvision
    /tmp/pt/bin/python bench/decode_pytorch.py DIR/train --workers 1 --images 400

The transforms are the paper's training views as torchvision spells them: the shorter side
resized to a random length in [256, 480] (v2.RandomResize), a random 224 crop, a horizontal flip,
to float, AlexNet's PCA lighting (the 3-line transform of the PyTorch ImageNet recipes: torchvision
has none) and normalisation. A DataLoader with `--workers` processes makes batches of 32; the rate
counts images delivered to the main process after the first batch.
"""
import argparse
import json
import sys
import time
import types

import torch

# A torchvision wheel built for another torch cannot load its C++ operators; its import then fails
# registering their fake kernels. ImageFolder and the transforms need none of them.
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
from torchvision import datasets  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

EIGVAL = torch.tensor([0.2175, 0.0188, 0.0045])
EIGVEC = torch.tensor([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]])


class Lighting:
    def __call__(self, img):
        alpha = torch.randn(3) * 0.1
        return img + (EIGVEC * alpha * EIGVAL).sum(1).view(3, 1, 1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--images", type=int, default=400)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(1)
    transform = v2.Compose([
        v2.ToImage(), v2.RandomResize(256, 481, antialias=True), v2.RandomCrop(224), v2.RandomHorizontalFlip(),
        v2.ToDtype(torch.float32, scale=True), Lighting(),
        v2.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    data = datasets.ImageFolder(a.folder, transform=transform)
    repeats = -(-a.images // len(data))
    data = torch.utils.data.ConcatDataset([data] * repeats)
    loader = torch.utils.data.DataLoader(
        data, batch_size=a.batch_size, shuffle=True, num_workers=a.workers, persistent_workers=False,
        generator=torch.Generator().manual_seed(1))
    count = 0
    start = None
    for images, _ in loader:
        if start is None:
            start = time.perf_counter()  # after the workers started and made the first batch
            continue
        count += images.shape[0]
        if count >= a.images:
            break
    seconds = time.perf_counter() - start
    result = {"framework": f"torchvision {sys.modules['torchvision'].__version__}", "workers": a.workers,
              "images": count, "seconds": seconds, "images_per_s": count / seconds}
    print(json.dumps(result) if a.json else f"torchvision ImageFolder, {a.workers} worker(s): {count / seconds:.1f} images/s")


if __name__ == "__main__":
    main()
