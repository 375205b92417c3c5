"""ref_sam_variants.py - SAM's variants in PyTorch, written from the papers
and their authors' code (not from samc), for torch_ref.train():

ASAM (Kwon et al., ICML 2021; SamsungLabs/ASAM asam.py): the operator
  T_w = |w| + eta, on every param (only = "all") or on the params named
  "*.weight" only (only = "weights"; the identity elsewhere); the ascent
  e = rho * T_w^2 g / ||T_w g|| (the official code multiplies the gradient by
  T_w twice and divides by the norm of the once-multiplied one).

rho schedules: rho_t for each group from its rho (rho_max) at optimizer
  step t of `total`: constant; step, rho * gamma^floor(t / step_size);
  cosine, rho_min + (rho - rho_min)(1 + cos(pi min(t, T) / T)) / 2 with
  T = t_max or total; lr, GSAM's ProportionScheduler:
  rho_min + (rho - rho_min)(lr_t - lr_min) / (lr_max - lr_min), lr_max the
  optimizer's lr (rho itself when lr_max <= lr_min).

GSAM (Zhuang et al., ICLR 2022; juntang-zhuang/GSAM gsam.py): g at w,
  g_p at the perturbed weights; g's component orthogonal to g_p,
    cos = <g, g_p> / (||g_p|| ||g|| + 1e-12)
    v   = g - cos ||g|| g_p / (||g_p|| + 1e-12)
  and the base optimizer is handed g_p - alpha * v.

The ascent's norm takes 1e-12 as davda54's SAM (torch_ref.SAM) does; the
official ASAM adds 1e-16, which no comparison here can tell apart.
"""

import math

import torch


def applies(sam):
    """True when the recipe's optimizer.sam needs this optimizer."""
    return any(k in sam for k in ("eta", "only", "rho_schedule", "gsam"))


def is_weight(name):
    return name.split(".")[-1] == "weight"


def rho_at(sched, rho_max, t, total, lr, lr_max):
    kind = sched.get("name", "constant")
    if kind == "constant":
        return rho_max
    if kind == "step":
        return rho_max * sched.get("gamma", 0.1) ** math.floor(t / sched["step_size"])
    rho_min = sched.get("rho_min", 0.0)
    if kind == "cosine":
        T = sched.get("t_max") or total
        return rho_min + (rho_max - rho_min) * (1 + math.cos(math.pi * min(t, T) / T)) / 2
    if kind == "lr":
        lr_min = sched.get("lr_min", 0.0)
        if lr_max <= lr_min:
            return rho_max
        return rho_min + (rho_max - rho_min) * (lr - lr_min) / (lr_max - lr_min)
    raise ValueError(f"oracle: unknown rho schedule {kind!r}")


class SAMVariants(torch.optim.Optimizer):
    """first_step / second_step around a base optimizer, as torch_ref.SAM,
    with ASAM's eta and only, a per-step rho and GSAM's decomposition."""

    def __init__(self, names, params, sam, base_cls, kw, rho_of):
        by_rho = {}
        for n in names:
            by_rho.setdefault(rho_of(sam, n), []).append(n)
        groups = [{"params": [params[n] for n in ns], "names": ns, "rho_max": rho, "rho": rho}
                  for rho, ns in by_rho.items()]
        super().__init__(groups, {})
        self.base_optimizer = base_cls(self.param_groups, **kw)
        self.param_groups = self.base_optimizer.param_groups
        self.adaptive = bool(sam.get("adaptive", False))
        self.eta = sam.get("eta", 0.0)
        self.only = sam.get("only", "all")
        self.sched = sam.get("rho_schedule") or {"name": "constant"}
        self.alpha = sam["gsam"]["alpha"] if "gsam" in sam else None
        self.lr_max = kw["lr"]

    def at_step(self, t, total):
        lr = self.param_groups[0]["lr"]  # set for step t by the caller
        for g in self.param_groups:
            g["rho"] = rho_at(self.sched, g["rho_max"], t, total, lr, self.lr_max)

    def _t(self, name, p):
        """T_w, or None for the identity."""
        if not self.adaptive or (self.only == "weights" and not is_weight(name)):
            return None
        return torch.abs(p) + self.eta

    def _each(self):
        for g in self.param_groups:
            for name, p in zip(g["names"], g["params"]):
                if p.grad is not None:
                    yield g, name, p

    @torch.no_grad()
    def first_step(self):
        norms = []
        for _, name, p in self._each():
            t = self._t(name, p)
            norms.append((p.grad if t is None else t * p.grad).norm(p=2))
        norm = torch.norm(torch.stack(norms), p=2)
        for g, name, p in self._each():
            t = self._t(name, p)
            st = self.state[p]
            st["old_p"], st["old_g"] = p.data.clone(), p.grad.clone()
            scale = g["rho"] / (norm + 1e-12)
            e_w = p.grad if t is None else t * t * p.grad
            p.add_(e_w * scale)

    @torch.no_grad()
    def second_step(self):
        if self.alpha is not None:
            self._decompose()
        for _, _, p in self._each():
            p.data = self.state[p]["old_p"]
        self.base_optimizer.step()

    def _decompose(self):
        ps = [p for _, _, p in self._each()]
        old = [self.state[p]["old_g"] for p in ps]
        inner = sum(torch.sum(g * p.grad) for g, p in zip(old, ps))
        new_norm = torch.norm(torch.stack([p.grad.norm(p=2) for p in ps]), p=2)
        old_norm = torch.norm(torch.stack([g.norm(p=2) for g in old]), p=2)
        cosine = inner / (new_norm * old_norm + 1e-12)
        for g, p in zip(old, ps):
            vertical = g - cosine * old_norm * p.grad / (new_norm + 1e-12)
            p.grad.add_(vertical, alpha=-self.alpha)


def make(optim, names, params, sam, base_cls, kw, rho_of):
    """The optimizer for optimizer.sam: `optim` (torch_ref.SAM) unless a
    variant is asked for."""
    return SAMVariants(names, params, sam, base_cls, kw, rho_of) if applies(sam) else optim


def at_step(optim, t, total):
    """Sets each group's rho for step t (the lr of step t already set)."""
    if isinstance(optim, SAMVariants):
        optim.at_step(t, total)
