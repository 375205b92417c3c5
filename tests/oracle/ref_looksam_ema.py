"""ref_looksam_ema.py - the PyTorch side of LookSAM and of the EMA of the
weights, for torch_ref.train(). Written from the sources, not from samc:

LookSAM: Liu et al., "Towards Efficient and Scalable Sharpness-Aware
Minimization", CVPR 2022, Algorithm 1. With g = grad L(x):
  t mod k == 0: g_s = grad L at x + rho g/||g|| (a SAM step), and
                g_v = g_s - ||g_s|| cos(theta) g/||g||,
                cos(theta) = <g, g_s> / (||g|| ||g_s||)
  otherwise:    g_s = g + alpha (||g|| / ||g_v||) g_v
  x <- x - eta g_s (here: the base optimizer given g_s)
The norms and the inner product are over the whole parameter vector x, as
the algorithm writes them (one vector in R^d), each norm the 2-norm of the
per-tensor norms as in the davda54 SAM class. Steps count t from 0, so the
first step is a SAM step and g_v exists before it is read.

EMA: torch.optim.swa_utils.AveragedModel with an exponential average,
updated after every optimizer step: the first update_parameters copies the
parameters, each later one is get_ema_multi_avg_fn(decay)'s
torch.lerp(ema, p, 1 - decay) (PyTorch >= 2.1 names that function; the
lerp is passed as avg_fn here, so that older PyTorch runs it too). Buffers
are not averaged (use_buffers=False): evaluation uses the model's own
BatchNorm statistics, as AveragedModel keeps its buffers in sync with the
model's in PyTorch >= 2.0.
"""

import torch
from torch.optim.swa_utils import AveragedModel


def _norm(ts):
    return torch.norm(torch.stack([t.norm(p=2) for t in ts]), p=2)


class LookSAM:
    """The LookSAM parts of a step; inert when the recipe has no looksam."""

    def __init__(self, sam, params, names):
        cfg = (sam or {}).get("looksam")
        self.on = cfg is not None
        cfg = cfg or {}
        self.k, self.alpha = cfg.get("k", 5), cfg.get("alpha", 0.7)
        self.params, self.names = params, names
        self.g, self.gv = None, {}

    def every(self, every):
        return self.k if self.on else every

    def save_g(self):
        if self.on:
            self.g = [self.params[n].grad.detach().clone() for n in self.names]

    @torch.no_grad()
    def store_gv(self):
        """After the SAM step's second backward: p.grad holds g_s."""
        if not self.on:
            return
        g = self.g
        gs = [self.params[n].grad for n in self.names]
        gn, gsn = _norm(g), _norm(gs)
        cos = sum((a * b).sum() for a, b in zip(g, gs)) / (gn * gsn)
        for n, a, b in zip(self.names, g, gs):
            self.gv[n] = b - gsn * cos * a / gn

    @torch.no_grad()
    def mix(self):
        """Between SAM steps: p.grad = g + alpha (||g|| / ||g_v||) g_v."""
        if not self.on:
            return
        g = [self.params[n].grad for n in self.names]
        scale = self.alpha * _norm(g) / _norm([self.gv[n] for n in self.names])
        for n in self.names:
            self.params[n].grad.add_(self.gv[n] * scale)

    def state(self):
        return {f"opt.{n}.looksam_gv": v.clone() for n, v in self.gv.items()}


class _Params(torch.nn.Module):
    """The parameters as a module, for AveragedModel (names without dots)."""

    def __init__(self, tensors):
        super().__init__()
        for i, t in enumerate(tensors):
            self.register_parameter(f"p{i}", torch.nn.Parameter(t.detach().clone()))


class _Live:
    """What update_parameters reads of the model: its current parameters
    (SAM's second_step swaps p.data, so the tensors are read each time)."""

    def __init__(self, params, names):
        self.params, self.names = params, names

    def parameters(self):
        return [self.params[n] for n in self.names]


class EMA:
    """AveragedModel over the parameters; inert without a recipe ema."""

    def __init__(self, recipe, params, names):
        cfg = recipe.get("ema")
        self.on = cfg is not None
        self.names, self.live = names, _Live(params, names)
        if self.on:
            decay = (cfg or {}).get("decay", 0.999)
            self.avg = AveragedModel(_Params(self.live.parameters()),
                                     avg_fn=lambda e, p, n: torch.lerp(e, p, 1 - decay))

    def update(self):
        if self.on:
            self.avg.update_parameters(self.live)

    def weights(self, params):
        """The parameters evaluation uses: the EMA's when there is one."""
        if not self.on:
            return params
        return {n: p.detach() for n, p in zip(self.names, self.avg.module.parameters())}

    def state(self):
        if not self.on:
            return {}
        return {f"ema.{n}": p.detach().clone()
                for n, p in zip(self.names, self.avg.module.parameters())}
