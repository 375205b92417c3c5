"""ref_optim_extras.py - the PyTorch side of optimizer.name = "rmsprop",
optimizer.clip_grad_norm, optimizer.no_decay and optimizer.groups, each
configured from the recipe as a PyTorch user writes it:

  - torch.optim.RMSprop(lr, alpha, eps, weight_decay, momentum, centered);
  - torch.nn.utils.clip_grad_norm_(params, C) on the gradients as the base
    optimizer's step begins (for SAM: the gradient at the perturbed point,
    for GSAM the combined one), so that the optimizer adds weight decay
    afterwards;
  - param groups: a parameter whose name contains a no_decay string gets
    weight_decay 0; optimizer.groups gives the parameters whose names start
    with its prefix (the first group that matches) their own weight_decay
    and an lr of lr * lr_scale, set in the param group before every step.
"""

import torch

# the optimizer state buffers beside torch_ref's, by torch's names
BUFFERS = ("square_avg", "grad_avg")


def base_optimizer(opt):
    """(torch.optim.RMSprop, kwargs) for name = "rmsprop" (PyTorch's
    defaults: lr 1e-2, alpha 0.99, eps 1e-8), else None."""
    if opt["name"] != "rmsprop":
        return None
    return torch.optim.RMSprop, dict(
        lr=opt.get("lr", 1e-2), alpha=opt.get("alpha", 0.99), eps=opt.get("eps", 1e-8),
        weight_decay=opt.get("weight_decay", 0), momentum=opt.get("momentum", 0),
        centered=bool(opt.get("centered", False)), foreach=False)


def _group_of(opt, name):
    for i, g in enumerate(opt.get("groups") or []):
        if name.startswith(g["prefix"]):
            return i
    return None


def param_groups(opt, names, params, rho_of=None):
    """torch.optim param groups, one per distinct (optimizer group, no_decay,
    SAM rho) in declaration order; a group holds weight_decay only where the
    recipe sets it (else the optimizer's default applies), its lr_scale, and
    its rho when rho_of (name -> rho) is given."""
    out = {}
    for n in names:
        k = _group_of(opt, n)
        nd = any(p in n for p in opt.get("no_decay") or [])
        rho = rho_of(n) if rho_of else None
        g = out.get((k, nd, rho))
        if g is None:
            g = out[(k, nd, rho)] = {"params": [], "lr_scale": 1.0}
            if k is not None:
                spec = opt["groups"][k]
                g["lr_scale"] = spec.get("lr_scale", 1.0)
                if "weight_decay" in spec:
                    g["weight_decay"] = spec["weight_decay"]
            if nd:
                g["weight_decay"] = 0.0
            if rho_of:
                g["rho"] = rho
        g["params"].append(params[n])
    return list(out.values())


def clip_in_step(opt, optimizer, params):
    """With the recipe's max norm, has `optimizer` (the base optimizer) run
    clip_grad_norm_ over params first in each of its steps: the gradient it
    receives is clipped, whatever produced it (SAM's second gradient,
    GSAM's combination of the two)."""
    c = opt.get("clip_grad_norm", 0)
    if not c:
        return
    params, step = list(params), optimizer.step

    def clipped(*args, **kwargs):
        torch.nn.utils.clip_grad_norm_(params, c)
        return step(*args, **kwargs)
    optimizer.step = clipped
