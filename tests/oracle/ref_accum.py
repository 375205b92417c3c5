"""ref_accum.py - the PyTorch side of a step of micro-batches: gradient
accumulation (`optimizer.accumulate = K`) and m-sharpness
(`optimizer.sam.m = M`), written as a PyTorch user writes them.

Gradient accumulation, PyTorch's documented idiom (the AMP examples'
"gradient accumulation": `loss = loss / iters_to_accumulate`, backward on
each micro-batch, one `optimizer.step()`):

    zero_grad()
    for i in range(K): (loss(micro_i) / K).backward()
    optimizer.step()

and for SAM (the batch's gradient is what SAM's first step reads, so it is
accumulated first, then the second gradient at the perturbed weights):

    for i in range(K): (loss(micro_i) / K).backward()          # BN: train
    sam.first_step()                                            # e from the accumulated grad
    zero_grad()
    for i in range(K): (loss(micro_i, w + e) / K).backward()   # BN: running stats untouched
    sam.second_step()

m-sharpness (Foret et al. 2021, section 4 and appendix C.3;
google-research/sam computes it per device with a psum of the second
gradients): the batch is split in M micro-batches, micro-batch j is
perturbed by its own gradient, e_j = rho g_j / ||g_j|| (ASAM: with |w|),
the second gradients are averaged and the base optimizer takes one step:

    for j in range(M):
        zero_grad(); loss(micro_j).backward(); sam.first_step()
        zero_grad(); loss(micro_j, w + e_j).backward(); restore w
        acc += grad
    grad = acc / M; base.step()

Each micro-batch is a forward pass of its own: BatchNorm normalises it with
its own statistics and updates the running statistics once for it, at w
(davda54/sam's momentum-0 bypass at the perturbed weights). The step's
loss is the mean of the micro-batches' losses at w. Dropout's noise of
micro-batch i of step t is samc's noise step t * n + i (docs/dsl.md).
Between steps samc's accumulators (`accum.grad.<p>`, `accum.sam.<p>`) are
zero; the reference reports them as such.
"""

import torch

import ref_looksam_ema
import ref_optim_extras
import ref_sam_variants
import torch_ref


def micro_count(recipe):
    """(n, kind): micro-batches per step and "accumulate" or "m"; (1, None)."""
    opt = recipe["optimizer"]
    k = opt.get("accumulate", 1) or 1
    m = (opt.get("sam") or {}).get("m", 1) or 1
    if k > 1:
        return k, "accumulate"
    if m > 1:
        return m, "m"
    return 1, None


def _split(batch, n, i):
    """Micro-batch i of n: rows [i*b/n, (i+1)*b/n) of every input."""
    out = {}
    for k, v in batch.items():
        b = v.shape[0] // n
        out[k] = v[i * b:(i + 1) * b]
    return out


def train(model, init, batches, evaluate=False):
    """torch_ref.train's contract for a recipe with micro-batches."""
    n, kind = micro_count(model.recipe)
    dtype = init[model.params[0][0]].dtype
    # the model at the micro-batch, traced with the batch size overridden
    # (its reshapes and flattens name the batch)
    b = next(iter(batches[0].values())).shape[0]
    micro = torch_ref.Model(torch_ref.trace(model.desc["path"], batch=b // n))
    opt = model.recipe["optimizer"]
    base_cls, kw = torch_ref.base_optimizer(opt)
    names = [p for p, _, _ in model.params]
    params = {p: init[p].clone().requires_grad_(True) for p in names}
    sam = opt.get("sam")
    # one param group per distinct rho (and optimizer group), as torch_ref.train
    groups = ref_optim_extras.param_groups(opt, names, params,
                                           (lambda p: torch_ref._sam_rho(sam, p)) if sam else None)
    if sam:
        optim = torch_ref.SAM(groups, base_cls, rho=sam.get("rho", 0.05),
                              adaptive=bool(sam.get("adaptive", False)), **kw)
        # ASAM's eta and only, rho schedules, GSAM (accumulate only: its
        # decomposition takes the accumulated first and second gradients)
        optim = ref_sam_variants.make(optim, names, params, sam, base_cls, kw, torch_ref._sam_rho)
        base = optim.base_optimizer
    else:
        optim = base = base_cls(groups, **kw)
    # clip_grad_norm on the gradient the base optimizer receives (the mean);
    # the EMA after each optimizer step
    ref_optim_extras.clip_in_step(opt, base, params.values())
    ema = ref_looksam_ema.EMA(model.recipe, params, names)
    states = model.init_states(dtype)

    def micro_batch(batch, t, i):
        return micro.with_noise(_split(batch, n, i), t * n + i, dtype)

    def backward(mb, bn, scale):
        loss, _ = micro.forward(params, mb, states, bn)
        (loss * scale).backward()
        return loss.detach()

    losses = []
    T = len(batches)
    for t, batch in enumerate(batches):
        for g in optim.param_groups:
            g["lr"] = torch_ref.lr_at(model.recipe, t, T) * g.get("lr_scale", 1.0)
        ref_sam_variants.at_step(optim, t, T)
        mbs = [micro_batch(batch, t, i) for i in range(n)]
        optim.zero_grad(set_to_none=True)
        if kind == "accumulate":
            step_loss = sum(backward(mb, "train", 1.0 / n) for mb in mbs) / n
            if sam:
                optim.first_step()
                optim.zero_grad(set_to_none=True)
                for mb in mbs:
                    backward(mb, "bypass", 1.0 / n)
                optim.second_step()
            else:
                base.step()
        else:  # m-sharpness
            acc = {p: torch.zeros_like(params[p]) for p in names}
            step_loss = 0
            for mb in mbs:
                optim.zero_grad(set_to_none=True)
                step_loss = step_loss + backward(mb, "train", 1.0)
                optim.first_step()
                optim.zero_grad(set_to_none=True)
                backward(mb, "bypass", 1.0)
                with torch.no_grad():
                    for p in names:
                        params[p].data = optim.state[params[p]]["old_p"]
                        acc[p] += params[p].grad
            step_loss = step_loss / n
            for p in names:
                params[p].grad = acc[p] / n
            base.step()
        losses.append(step_loss)
        ema.update()

    out = {p: params[p].detach().clone() for p in names}
    for p in names:
        st = base.state.get(params[p], {})
        for buf in ("momentum_buffer", "exp_avg", "exp_avg_sq") + ref_optim_extras.BUFFERS:
            if st.get(buf) is not None:
                out[f"opt.{p}.{buf}"] = st[buf].detach().clone()
        # samc's accumulators, zero between steps
        if kind == "accumulate":
            out[f"accum.grad.{p}"] = torch.zeros_like(out[p])
        if sam:
            out[f"accum.sam.{p}"] = torch.zeros_like(out[p])
    for s, _, _ in model.states:
        out[s] = states[s].clone()
    out.update(ema.state())
    out["loss"] = torch.stack(losses)
    if evaluate:  # evaluation is per example: the whole batch at once
        with torch.no_grad():
            loss, metrics = model.forward(ema.weights(params), batches[0], states, "eval")
        out["eval.loss"] = loss.detach().clone()
        for k, v in metrics.items():
            out[f"eval.{k}"] = v.detach().clone()
    return out
