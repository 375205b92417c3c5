#!/usr/bin/python3
"""test_torch_ref.py - checks the oracle's PyTorch side before trusting it:

  - the traced model (trace.lua replayed by torch_ref.Model) computes what a
    hand-written PyTorch MLP computes;
  - the learning-rate closed forms give hand-computed values and those of
    torch.optim.lr_scheduler (a warmup: SequentialLR of LinearLR and the
    schedule);
  - torch_ref.train (the SAM class around torch.optim) agrees, on every model
    file, with a second implementation written here from the published
    formulas alone (SAM/ASAM with eta and only, rho schedules, GSAM, SGD,
    Adam, AdamW, RMSprop, LookSAM, the EMA, clipping by global norm,
    per-parameter lr and weight decay; no torch.optim), in f64;
    batch_norm's state there comes from the first pass, the second pass
    updating a copy that is thrown away (google-research/sam's way), where
    torch_ref.train runs the second pass with momentum 0 (davda54's).

Exit 1 on failure, 77 if torch is not importable."""

import glob
import math
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover
    print(f"SKIP: torch not importable ({e}); run with /usr/bin/python3", file=sys.stderr)
    sys.exit(77)

import ref_accum  # noqa: E402
import torch_ref  # noqa: E402

failures = []


def check(cond, what):
    print(f"{'ok  ' if cond else 'FAIL'} {what}")
    if not cond:
        failures.append(what)


def manual_asam_t(sam, name, w):
    """ASAM's T_w (Kwon et al. 2021): |w| + eta, on *.weight only with
    only = "weights"; 1 for plain SAM."""
    if not sam.get("adaptive") or (sam.get("only") == "weights" and
                                   not name.endswith(".weight")):
        return torch.ones_like(w)
    return w.abs() + sam.get("eta", 0)


def manual_rho(sam, rho, t, total, lr, lr_max):
    """rho of step t on optimizer.sam.rho_schedule (docs/dsl.md)."""
    s = sam.get("rho_schedule") or {}
    kind, rho_min = s.get("name", "constant"), s.get("rho_min", 0)
    if kind == "step":
        return rho * s.get("gamma", 0.1) ** (t // s["step_size"])
    if kind == "cosine":
        T = s.get("t_max") or total
        return rho_min + (rho - rho_min) * (1 + math.cos(math.pi * min(t, T) / T)) / 2
    if kind == "lr":
        return rho_min + (rho - rho_min) * (lr - s.get("lr_min", 0)) / (lr_max - s.get("lr_min", 0))
    return rho


def manual_gsam(g, gp, alpha):
    """GSAM (Zhuang et al. 2022): gp - alpha * (g's part orthogonal to gp),
    with the authors' 1e-12 guards, over all params as one vector."""
    names = list(g)
    v, vp = torch.cat([g[n].flatten() for n in names]), torch.cat([gp[n].flatten() for n in names])
    cos = float(v @ vp) / (float(vp.norm()) * float(v.norm()) + 1e-12)
    perp = v - cos * float(v.norm()) / (float(vp.norm()) + 1e-12) * vp
    d, out, at = vp - alpha * perp, {}, 0
    for n in names:
        out[n] = d[at:at + g[n].numel()].reshape(g[n].shape)
        at += g[n].numel()
    return out


def _lr_wd(opt, name, lr, wd):
    """A parameter's lr and weight decay: its optimizer.groups entry (the
    first prefix that matches), then none for a no_decay name."""
    for g in opt.get("groups") or []:
        if name.startswith(g["prefix"]):
            lr, wd = lr * g.get("lr_scale", 1.0), g.get("weight_decay", wd)
            break
    return lr, 0 if any(p in name for p in opt.get("no_decay") or []) else wd


def manual_train(model, init, batches):
    """The K steps from the formulas (DESIGN section 3 and torch.optim's
    documented algorithms), with plain tensors and autograd.grad."""
    rec = model.recipe
    opt = rec["optimizer"]
    name = opt["name"]
    names = [n for n, _, _ in model.params]
    w = {n: init[n].clone() for n in names}
    sam = opt.get("sam")
    mom, damp = opt.get("momentum", 0), opt.get("dampening", 0)
    nesterov = bool(opt.get("nesterov", False))
    opt_wd = opt.get("weight_decay", 0.01 if name == "adamw" else 0)
    b1, b2 = (opt.get("betas") or [0.9, 0.999])
    eps = opt.get("eps", 1e-8)
    alpha, centered = opt.get("alpha", 0.99), opt.get("centered", False)
    clip = opt.get("clip_grad_norm", 0)
    state = {n: {} for n in names}
    bn = model.init_states(init[names[0]].dtype)  # the model's own state
    losses = []
    # LookSAM: g_v = g_s - (<g, g_s>/||g||^2) g at each SAM step, g + alpha
    # (||g||/||g_v||) g_v between; EMA: a copy, then d*ema + (1-d)*w
    look = (sam or {}).get("looksam")
    every = look.get("k", 5) if look else (sam or {}).get("every", 1)
    gv, ema = {}, None

    # micro-batches (ref_accum.py): the model at the micro-batch
    nmicro, kind = ref_accum.micro_count(rec)
    mdl = model
    if nmicro > 1:
        b = next(iter(batches[0].values())).shape[0]
        mdl = torch_ref.Model(torch_ref.trace(model.desc["path"], batch=b // nmicro))

    def grad(weights, batch, states=bn):
        ps = {n: weights[n].clone().requires_grad_(True) for n in names}
        loss, _ = mdl.forward(ps, batch, states)
        gs = torch.autograd.grad(loss, [ps[n] for n in names])
        return loss.detach(), dict(zip(names, gs))

    def perturbed(g, t, lr):
        a = {n: manual_asam_t(sam, n, w[n]) for n in names}
        norm = math.sqrt(sum(float(((a[n] * g[n]) ** 2).sum()) for n in names))
        rho = {n: manual_rho(sam, torch_ref._sam_rho(sam, n), t, K, lr, opt["lr"]) for n in names}
        return {n: w[n] + rho[n] * a[n] ** 2 * g[n] / (norm + 1e-12) for n in names}

    def mean(ds):
        return {n: sum(d[n] for d in ds) / len(ds) for n in names}

    K = len(batches)
    for t, batch in enumerate(batches):
        lr = torch_ref.lr_at(rec, t, K)
        dt = init[names[0]].dtype
        # the second pass's state updates go to a copy that is dropped
        def drop():
            return {k: v.clone() for k, v in bn.items()}
        if nmicro > 1:
            mbs = [mdl.with_noise({k: v[i * len(v) // nmicro:(i + 1) * len(v) // nmicro]
                                   for k, v in batch.items()}, t * nmicro + i, dt)
                   for i in range(nmicro)]
            if kind == "accumulate":  # g from the whole batch, then g2 at one w~
                lg = [grad(w, mb) for mb in mbs]
                loss, g = sum(x[0] for x in lg) / nmicro, mean([x[1] for x in lg])
                if sam:
                    g1, wt = g, perturbed(g, t, lr)
                    g = mean([grad(wt, mb, drop())[1] for mb in mbs])
                    if "gsam" in sam:
                        g = manual_gsam(g1, g, sam["gsam"]["alpha"])
            else:  # m-sharpness: each micro-batch its own w~
                lg = [grad(w, mb) for mb in mbs]
                loss = sum(x[0] for x in lg) / nmicro
                g = mean([grad(perturbed(x[1], t, lr), mb, drop())[1] for x, mb in zip(lg, mbs)])
            losses.append(loss)
        else:
            batch = model.with_noise(batch, t, dt)
            loss, g = grad(w, batch)
            losses.append(loss)
            if sam and t % every == 0:
                g1 = g
                _, g = grad(perturbed(g, t, lr), batch, drop())
                if "gsam" in sam:
                    g = manual_gsam(g1, g, sam["gsam"]["alpha"])
                if look:
                    c = sum(float((g1[n] * g[n]).sum()) for n in names) / \
                        sum(float((g1[n] ** 2).sum()) for n in names)
                    gv = {n: g[n] - c * g1[n] for n in names}
            elif look:
                gn = math.sqrt(sum(float((g[n] ** 2).sum()) for n in names))
                vn = math.sqrt(sum(float((gv[n] ** 2).sum()) for n in names))
                g = {n: g[n] + look.get("alpha", 0.7) * gn / vn * gv[n] for n in names}
        if clip:  # g * min(1, C / (||g|| + 1e-6)), before weight decay
            norm = math.sqrt(sum(float((g[n] ** 2).sum()) for n in names))
            g = {n: g[n] * min(1.0, clip / (norm + 1e-6)) for n in names}
        step_lr = lr
        for n in names:
            p, gr, s = w[n], g[n], state[n]
            lr, wd = _lr_wd(opt, n, step_lr, opt_wd)
            if name == "rmsprop":
                gr = gr + wd * p
                s["square_avg"] = alpha * s.get("square_avg", 0 * p) + (1 - alpha) * gr * gr
                v = s["square_avg"]
                if centered:
                    s["grad_avg"] = alpha * s.get("grad_avg", 0 * p) + (1 - alpha) * gr
                    v = v - s["grad_avg"] ** 2
                d = gr / (v.sqrt() + eps)
                if mom:
                    s["momentum_buffer"] = mom * s.get("momentum_buffer", 0 * p) + d
                    d = s["momentum_buffer"]
                w[n] = p - lr * d
            elif name == "sgd":
                gr = gr + wd * p
                if mom:
                    s["momentum_buffer"] = (gr.clone() if "momentum_buffer" not in s
                                            else mom * s["momentum_buffer"] + (1 - damp) * gr)
                    gr = gr + mom * s["momentum_buffer"] if nesterov else s["momentum_buffer"]
                w[n] = p - lr * gr
            else:
                if name == "adam":
                    gr = gr + wd * p
                else:
                    p = p * (1 - lr * wd)
                step = s.get("step", 0) + 1
                s["step"] = step
                s["exp_avg"] = b1 * s.get("exp_avg", torch.zeros_like(p)) + (1 - b1) * gr
                s["exp_avg_sq"] = b2 * s.get("exp_avg_sq", torch.zeros_like(p)) + (1 - b2) * gr * gr
                mhat = s["exp_avg"] / (1 - b1 ** step)
                vhat = s["exp_avg_sq"] / (1 - b2 ** step)
                w[n] = p - lr * mhat / (vhat.sqrt() + eps)
        if "ema" in rec:
            d = rec["ema"].get("decay", 0.999)
            ema = dict(w) if ema is None else {n: d * ema[n] + (1 - d) * w[n] for n in names}
    out = dict(w)
    out.update(bn)
    out.update({f"opt.{n}.looksam_gv": v for n, v in gv.items()})
    out.update({f"ema.{n}": v for n, v in (ema or {}).items()})
    for n in names:
        for buf in ("momentum_buffer", "exp_avg", "exp_avg_sq", "square_avg", "grad_avg"):
            if buf in state[n]:
                out[f"opt.{n}.{buf}"] = state[n][buf]
        # samc's accumulators, zero between steps
        accs = (["accum.grad"] if kind == "accumulate" else []) + (["accum.sam"] if sam and kind
                                                                   else [])
        for acc in accs:
            out[f"{acc}.{n}"] = torch.zeros_like(w[n])
    out["loss"] = torch.stack(losses)
    return out


def test_replay():
    model = torch_ref.Model(torch_ref.trace(os.path.join(HERE, "models", "sgd.lua")))
    gen = torch.Generator().manual_seed(3)
    p = model.init_params(gen, torch.float64)
    b = model.make_batch(gen, torch.float64)
    check([n for n, _, _ in model.params] ==
          ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"],
          "traced params in declaration order")
    check(list(p["fc2.weight"].shape) == [12, 16] and float(p["fc2.weight"].abs().max()) <= 0.25,
          "linear init is uniform within 1/sqrt(fan_in)")
    h = F.relu(F.linear(b["x"], p["fc1.weight"], p["fc1.bias"]))
    h = F.relu(F.linear(h, p["fc2.weight"], p["fc2.bias"]))
    logits = F.linear(h, p["fc3.weight"], p["fc3.bias"])
    loss, metrics = model.forward(p, b)
    check(torch.equal(loss, F.cross_entropy(logits, b["y"])), "replayed loss equals a hand-written MLP")
    acc = (logits.argmax(1) == b["y"]).double().mean()
    check(torch.equal(metrics["accuracy"], acc), "replayed accuracy")


def torch_lrs(sched, lr, total):
    """The lr of each of `total` steps from torch.optim.lr_scheduler, as a
    user of PyTorch writes a warmup: SequentialLR of LinearLR (from lr/W up
    to lr on step W-1) and the schedule over the remaining steps."""
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=lr)
    S = torch.optim.lr_scheduler
    w = sched.get("warmup", 0)
    rest = total - w
    if sched["name"] == "cosine":
        main = S.CosineAnnealingLR(opt, T_max=sched.get("t_max") or rest,
                                   eta_min=sched.get("eta_min", 0))
    elif sched["name"] == "step":
        main = S.StepLR(opt, step_size=sched["step_size"], gamma=sched.get("gamma", 0.1))
    else:
        main = S.ConstantLR(opt, factor=1.0, total_iters=0)
    if w:
        ramp = S.LinearLR(opt, start_factor=1 / w, end_factor=1.0, total_iters=w - 1)
        main = S.SequentialLR(opt, [ramp, main], milestones=[w])
    out = []
    warnings.simplefilter("ignore", UserWarning)  # SequentialLR's own step(0)
    for _ in range(total):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        main.step()
    return out


def test_lr():
    def rec(sched, lr=0.1):
        return {"optimizer": {"name": "sgd", "lr": lr}, "schedule": sched}
    # the case: warmup 5 of 10 steps, then the cosine over 5
    cos = {"name": "cosine", "warmup": 5}
    got = [torch_ref.lr_at(rec(cos, 1e-3), t, 10) for t in range(10)]
    want = torch_lrs(cos, 1e-3, 10)
    ok = max(abs(a - b) for a, b in zip(got, want)) < 1e-15
    check(ok, "warmup 5 + cosine = torch's LinearLR then CosineAnnealingLR" +
          ("" if ok else f"\n  {got}\n  {want}"))
    check(got[4] == 1e-3 and got[5] == 1e-3 and got[9] < got[6],
          f"warmup reaches lr, then the cosine decays {got}")
    for sched in ({"name": "cosine", "t_max": 4, "eta_min": 0.001, "warmup": 3},
                  {"name": "step", "step_size": 2, "gamma": 0.5, "warmup": 3},
                  {"name": "constant", "warmup": 4}):
        got = [torch_ref.lr_at(rec(sched), t, 12) for t in range(12)]
        want = torch_lrs(sched, 0.1, 12)
        if "t_max" in sched:  # torch's cosine rises again after T_max; samc holds eta_min
            n = sched["warmup"] + sched["t_max"] + 1
            got, want = got[:n], want[:n]
        ok = max(abs(a - b) for a, b in zip(got, want)) < 1e-15
        check(ok, f"{sched} = torch's schedulers" + ("" if ok else f"\n  {got}\n  {want}"))
    cos = rec({"name": "cosine", "t_max": 10, "eta_min": 0.001})
    check(torch_ref.lr_at(cos, 14, 10) == 0.001, "cosine holds eta_min after t_max")
    no_tmax = rec({"name": "cosine"})
    check(abs(torch_ref.lr_at(no_tmax, 5, 10) - 0.05) < 1e-15, "cosine without t_max spans the run")
    step = rec({"name": "step", "step_size": 3, "gamma": 0.5})
    check([torch_ref.lr_at(step, t, 10) for t in (0, 2, 3, 7)] == [0.1, 0.1, 0.05, 0.025], "step")
    adam = {"optimizer": {"name": "adam"}}
    check(torch_ref.lr_at(adam, 4, 10) == 1e-3, "adam default lr, constant schedule")


def test_train_vs_manual():
    for path in sorted(glob.glob(os.path.join(HERE, "models", "*.lua"))):
        case = os.path.splitext(os.path.basename(path))[0]
        model = torch_ref.Model(torch_ref.trace(path))
        gen = torch.Generator().manual_seed(11)
        init = model.init_params(gen, torch.float64)
        batches = [model.make_batch(gen, torch.float64) for _ in range(5)]
        a = torch_ref.train(model, init, batches)
        b = manual_train(model, init, batches)
        worst = max(float((a[k] - b[k]).norm() / max(float(b[k].norm()), 1e-300)) for k in b)
        check(set(a) == set(b) and worst < 1e-12,
              f"{case}: torch.optim + SAM class vs formulas, worst rel err {worst:.1e}")


def main():
    torch.set_num_threads(1)
    test_replay()
    test_lr()
    test_train_vs_manual()
    print(f"test_torch_ref: {len(failures)} failure(s)" if failures else "test_torch_ref: all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
