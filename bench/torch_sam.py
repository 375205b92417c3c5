"""torch_sam.py - the PyTorch side of the benchmark: the same networks as
bench/models/*.lua (the MLPs, and examples/fashion_cnn.lua's CNN), SGD with
momentum, and SAM in the eager formulation people run today (the widely
used davda54 `SAM` class: first_step perturbs the weights in place,
second_step restores them and calls the base optimizer). Times base and SAM steps in alternating blocks, like
samc_bench steps, and prints JSON lines.

Run with Debian's interpreter: /usr/bin/python3 bench/torch_sam.py --model small
(`--device cuda` on a GPU: bench/gpu_torch.py, scripts/gpu-check.sh).
Threads and OpenMP waiting are set by the caller's environment (run.py).
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SHAPES = {"small": [784, 256, 10], "medium": [784, 1024, 1024, 10], "cnn": None}
LR, MOMENTUM, RHO, BATCH = 0.05, 0.9, 0.05, 128
WEIGHT_DECAY = {"cnn": 5e-4}  # examples/fashion_cnn.lua's; the MLPs have none


class FashionCNN(nn.Module):
    """examples/fashion_cnn.lua: three conv-BN-ReLU-maxpool blocks, two linear layers."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(128)
        self.fc1 = nn.Linear(128 * 3 * 3, 256)
        self.fc2 = nn.Linear(256, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = F.max_pool2d(F.relu(self.bn3(self.conv3(x))), 2)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


def bypass_bn(model, on):
    """davda54/sam's disable_running_stats / enable_running_stats: the second
    pass must not move the running statistics, so its BatchNorm momentum is 0."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            if on:
                m.backup_momentum = m.momentum
                m.momentum = 0
            else:
                m.momentum = m.backup_momentum


class SAM(torch.optim.Optimizer):
    """davda54/sam's SAM (non-adaptive path), as users copy it."""

    def __init__(self, params, base_optimizer, rho=0.05, **kwargs):
        defaults = dict(rho=rho, **kwargs)
        super().__init__(params, defaults)
        self.base_optimizer = base_optimizer(self.param_groups, **kwargs)
        self.param_groups = self.base_optimizer.param_groups

    @torch.no_grad()
    def first_step(self, zero_grad=False):
        grad_norm = self._grad_norm()
        for group in self.param_groups:
            scale = group["rho"] / (grad_norm + 1e-12)
            for p in group["params"]:
                if p.grad is None:
                    continue
                self.state[p]["old_p"] = p.data.clone()
                p.add_(p.grad * scale.to(p))
        if zero_grad:
            self.zero_grad(set_to_none=True)

    @torch.no_grad()
    def second_step(self, zero_grad=False):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                p.data = self.state[p]["old_p"]
        self.base_optimizer.step()
        if zero_grad:
            self.zero_grad(set_to_none=True)

    def _grad_norm(self):
        return torch.norm(torch.stack([p.grad.norm(p=2)
                                       for g in self.param_groups for p in g["params"]
                                       if p.grad is not None]), p=2)


def make_model(name):
    if name == "cnn":
        return FashionCNN()
    dims = SHAPES[name]
    layers = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=sorted(SHAPES), required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--foreach", action="store_true", help="torch.optim.SGD(foreach=True)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (bench/gpu_torch.py)")
    ap.add_argument("--batch", type=int, default=BATCH)
    a = ap.parse_args()
    dev = torch.device(a.device)
    # a GPU runs asynchronously: a phase's time is only known after a sync
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    shape = (a.batch, 1, 28, 28) if a.model == "cnn" else (a.batch, 784)
    xs = [torch.randn(*shape, generator=gen).to(dev) for _ in range(8)]
    ys = [torch.randint(0, 10, (a.batch,), generator=gen).to(dev) for _ in range(8)]

    base_model = make_model(a.model).to(dev)
    wd = WEIGHT_DECAY.get(a.model, 0)
    base_opt = torch.optim.SGD(base_model.parameters(), lr=LR, momentum=MOMENTUM,
                               weight_decay=wd, foreach=a.foreach)
    sam_model = make_model(a.model).to(dev)
    sam_opt = SAM(sam_model.parameters(), torch.optim.SGD, rho=RHO, lr=LR,
                  momentum=MOMENTUM, weight_decay=wd, foreach=a.foreach)

    def base_step(i):
        x, y = xs[i % 8], ys[i % 8]
        loss = F.cross_entropy(base_model(x), y)
        loss.backward()
        base_opt.step()
        base_opt.zero_grad(set_to_none=True)
        return loss.item(), None

    def sam_step(i):
        # phases: first forward/backward, first_step (norm + perturb),
        # second forward/backward, second_step (restore + SGD update)
        x, y = xs[i % 8], ys[i % 8]
        t0 = time.perf_counter()
        loss = F.cross_entropy(sam_model(x), y)
        loss.backward()
        sync()
        t1 = time.perf_counter()
        sam_opt.first_step(zero_grad=True)
        sync()
        t2 = time.perf_counter()
        bypass_bn(sam_model, True)
        F.cross_entropy(sam_model(x), y).backward()
        bypass_bn(sam_model, False)
        sync()
        t3 = time.perf_counter()
        sam_opt.second_step(zero_grad=True)
        sync()
        t4 = time.perf_counter()
        return loss.item(), (t1 - t0, t2 - t1, t3 - t2, t4 - t3)

    steps = {"base": base_step, "sam": sam_step}
    for name in ("base", "sam"):
        for i in range(a.warmup):
            steps[name](i)
    for b in range(a.blocks):
        for name in ("base", "sam"):
            ms, phases, loss = [], [], 0.0
            first = a.warmup + b * a.steps
            for i in range(first, first + a.steps):
                t0 = time.perf_counter()
                loss, ph = steps[name](i)
                ms.append((time.perf_counter() - t0) * 1e3)
                if ph:
                    phases.append(ph)
            rec = {"cmd": "steps", "prog": name, "block": b, "median_ms": statistics.median(ms),
                   "mean_ms": statistics.fmean(ms), "min_ms": min(ms), "loss": loss}
            if phases:
                # optimizer part: first_step + second_step, per step
                rec["optim_ms"] = statistics.median([(p[1] + p[3]) * 1e3 for p in phases])
                rec["fwdbwd_ms"] = statistics.median([(p[0] + p[2]) * 1e3 for p in phases])
            print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
