"""torch_ref.py - the PyTorch side of the oracle: a model traced from a samc
model file (trace.lua) replayed in PyTorch, the eager SAM optimizer, the
recipe's optimizer and learning-rate schedule, and K training steps.

Everything here follows the formulation a PyTorch user would write, so that
`samc steps` is checked against what people actually run:
  - SAM is the widely used davda54 `SAM` class (first_step / second_step
    around a base optimizer), with per-group rho;
  - base optimizers are torch.optim.SGD / Adam / AdamW (foreach off);
  - the learning rate is set in each param group before every step from the
    closed form of the schedule (torch's scheduler classes use recursive
    forms that round differently).
"""

import json
import math
import os
import subprocess

import torch
import torch.nn.functional as F

import philox
import ref_bf16
import ref_sam_variants
import ref_looksam_ema
import ref_optim_extras

HERE = os.path.dirname(os.path.abspath(__file__))


# -- the model ---------------------------------------------------------------

def trace(model_path, lua="lua5.4", batch=None):
    """Runs trace.lua on a model file (at another batch size if given);
    returns its JSON description."""
    r = subprocess.run([lua, os.path.join(HERE, "trace.lua"), model_path]
                       + ([str(batch)] if batch else []), capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"tracing {model_path} failed:\n{r.stderr}")
    return dict(json.loads(r.stdout), path=model_path)


def _shape(s):
    # trace.lua writes the empty shape of a scalar as {}
    return list(s) if isinstance(s, list) else []


class Model:
    """A traced model: params by name, inputs, and a forward that replays
    the tape and returns (loss, {metric: value})."""

    def __init__(self, desc):
        self.desc = desc
        self.tape = desc["tape"]
        self.params = [(p["name"], _shape(p["shape"]), p["init"]) for p in desc["params"]]
        self.inputs = [(i["name"], _shape(i["shape"]), i["dtype"], i.get("classes"))
                       for i in desc["inputs"]]
        self.recipe = desc["recipe"]
        # the layers' state (batch_norm's running statistics), by name
        self.states = [(t["name"], _shape(t["shape"]), t["init"]) for t in desc.get("states") or []]

    def init_states(self, dtype):
        """The state as samc starts it: zeros or ones. num_batches_tracked is
        int64 in torch.nn.BatchNorm; samc keeps it in the float dtype of the
        program, so it is held (and compared) as a float here."""
        return {name: (torch.ones if init == "ones" else torch.zeros)(shape, dtype=dtype)
                for name, shape, init in self.states}

    def init_params(self, gen, dtype):
        """PyTorch's defaults per rule (linear: uniform +-1/sqrt(fan_in)),
        drawn in float64 from `gen` and then cast, so f32 and f64 runs start
        from the same weights up to rounding."""
        out = {}
        for name, shape, init in self.params:
            kind = init["kind"]
            t = torch.empty(shape, dtype=torch.float64)
            if kind == "uniform":
                t.uniform_(init.get("a", 0.0), init.get("b", 1.0), generator=gen)
            elif kind == "normal":
                t.normal_(init.get("mean", 0.0), init.get("std", 1.0), generator=gen)
            elif kind == "zeros":
                t.zero_()
            elif kind == "ones":
                t.fill_(1.0)
            else:
                raise ValueError(f"param {name}: unknown init {kind!r}")
            out[name] = t.to(dtype)
        return out

    def make_batch(self, gen, dtype):
        """One random batch: float inputs N(0,1), labels uniform in classes."""
        out = {}
        for name, shape, kind, classes in self.inputs:
            if kind == "i32":
                hi = classes if classes else 2
                out[name] = torch.randint(0, hi, shape, generator=gen, dtype=torch.int64)
            else:
                out[name] = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)
        return out

    def with_noise(self, batch, t, dtype):
        """The batch of step t with each dropout's random input, as samc
        fills it (philox.py): one mask per step, read by both SAM passes."""
        drops = [n for n in self.tape if n["op"] == "dropout" and 0 < n["attrs"]["p"] < 1]
        if not drops:
            return batch
        batch = dict(batch)
        npdt = torch.empty((), dtype=dtype).numpy().dtype
        for n in drops:
            slot = "rng." + n["attrs"]["name"]
            u = philox.noise(slot, n["shape"], npdt, self.recipe.get("seed", 0), t)
            batch[slot] = torch.from_numpy(u)
        return batch

    def forward(self, params, batch, states=None, bn="train"):
        """bn: "train" (batch statistics; running statistics and
        num_batches_tracked updated), "bypass" (batch statistics; running
        statistics left alone, SAM's second pass) or "eval" (running
        statistics)."""
        vals = []
        dtype = next(iter(params.values())).dtype
        for n in self.tape:
            op, a, at = n["op"], [vals[i] for i in n["args"]] if n["args"] else [], n["attrs"]
            if isinstance(at, list):
                at = {}
            vals.append(_eval(op, a, at, params, batch, dtype, (states, bn)))
        loss = vals[self.recipe["loss"]["$tensor"]]
        metrics = {k: vals[v["$tensor"]] for k, v in (self.recipe.get("metrics") or {}).items()}
        return loss, metrics


def _reduce(fn, x, at):
    if "dim" not in at:
        r = fn(x)
        if at.get("keepdim"):
            r = r.reshape([1] * x.dim())
        return r
    return fn(x, at["dim"], keepdim=at.get("keepdim", False))


def _batch_norm(a, at, ctx):
    states, bn = ctx
    name = at["name"]
    rm, rv = states[name + ".running_mean"], states[name + ".running_var"]
    w, b = (a[1], a[2]) if len(a) > 1 else (None, None)
    if bn == "eval":
        return F.batch_norm(a[0], rm, rv, w, b, training=False, eps=at["eps"])
    # davda54/sam's bypass of the second pass: momentum 0 leaves the
    # running statistics as they were (F.batch_norm updates them in place)
    momentum = 0.0 if bn == "bypass" else at["momentum"]
    y = F.batch_norm(a[0], rm, rv, w, b, training=True, momentum=momentum, eps=at["eps"])
    if bn == "train":
        # one count per step: the second pass is not a batch of its own
        states[name + ".num_batches_tracked"].add_(1)
    return y


def _eval(op, a, at, params, batch, dtype, ctx=(None, "train")):
    if op == "batch_norm":
        return _batch_norm(a, at, ctx)
    if op == "layer_norm":
        return F.layer_norm(a[0], _shape(at["normalized_shape"]), a[1] if len(a) > 1 else None,
                            a[2] if len(a) > 2 else None, at["eps"])
    if op == "input":
        return batch[at["name"]]
    if op == "param":
        return params[at["name"]]
    if op == "const":
        return torch.tensor(at["value"], dtype=dtype)
    if op == "linear":
        return F.linear(a[0], a[1], a[2] if len(a) > 2 else None)
    simple = {
        "add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div,
        "pow": torch.pow, "neg": torch.neg, "relu": torch.relu, "gelu": F.gelu,
        "tanh": torch.tanh, "sigmoid": torch.sigmoid, "exp": torch.exp, "log": torch.log,
        "sqrt": torch.sqrt, "abs": torch.abs, "matmul": torch.matmul,
    }
    if op in simple:
        return simple[op](*a)
    if op in ("minimum", "maximum"):
        return getattr(torch, op)(*a)
    if op in ("gt", "ge", "lt", "le", "eq", "ne"):
        return getattr(torch, op)(*a).to(a[0].dtype)
    if op == "where":
        return torch.where(a[0] != 0, a[1], a[2])
    if op == "leaky_relu":
        return F.leaky_relu(a[0], at["negative_slope"])
    if op == "softplus":
        return F.softplus(a[0], at["beta"], at["threshold"])
    if op == "clamp":
        return torch.clamp(a[0], at.get("min"), at.get("max"))
    if op == "softmax":
        return torch.softmax(a[0], at["dim"])
    if op == "log_softmax":
        return torch.log_softmax(a[0], at["dim"])
    if op == "cross_entropy":
        return F.cross_entropy(a[0], a[1].long(), label_smoothing=at.get("label_smoothing", 0))
    if op == "embedding":
        return F.embedding(a[0].long(), a[1])
    if op == "dropout":
        # ATen's dropout with samc's mask: noise.bernoulli_(1 - p).div_(1 - p); x * noise
        p = at["p"]
        if p == 0 or ctx[1] == "eval":  # identity in evaluation
            return a[0]
        if p == 1:
            return a[0] * torch.zeros((), dtype=dtype)
        u = batch["rng." + at["name"]]
        return a[0] * ((u >= torch.tensor(p, dtype=dtype)).to(dtype) / (1 - p))
    if op == "mse_loss":
        return F.mse_loss(a[0], a[1])
    if op == "nll_loss":
        return F.nll_loss(a[0], a[1].long(), reduction=at["reduction"])
    if op == "bce_with_logits":
        return F.binary_cross_entropy_with_logits(a[0], a[1], reduction=at["reduction"],
                                                  pos_weight=a[2] if len(a) > 2 else None)
    if op == "accuracy":
        return (a[0].argmax(-1) == a[1].long()).to(a[0].dtype).mean()
    if op == "max_pool2d":
        return F.max_pool2d(a[0], at["kernel_size"], at["stride"], at["padding"])
    if op == "avg_pool2d":
        return F.avg_pool2d(a[0], at["kernel_size"], at["stride"], at["padding"],
                            count_include_pad=at["count_include_pad"])
    if op == "adaptive_avg_pool2d":
        return F.adaptive_avg_pool2d(a[0], at["output_size"])
    if op == "conv2d":
        return F.conv2d(a[0], a[1], a[2] if len(a) > 2 else None, at["stride"], at["padding"],
                        at["dilation"], at["groups"])
    if op == "reshape":
        return a[0].reshape(_shape(at["shape"]))
    if op == "narrow":
        return a[0].narrow(at["dim"], at["start"], at["length"])
    if op == "cat":
        return torch.cat(a, at["dim"])
    if op == "transpose":
        return a[0].transpose(at["d0"], at["d1"])
    if op == "sum":
        return _reduce(torch.sum, a[0], at)
    if op == "mean":
        return _reduce(torch.mean, a[0], at)
    if op == "max":
        if "dim" not in at:
            return _reduce(torch.max, a[0], at)
        return a[0].max(at["dim"], keepdim=at.get("keepdim", False)).values
    raise ValueError(f"oracle: op {op!r} is not known to torch_ref.py")


# -- SAM ---------------------------------------------------------------------

class SAM(torch.optim.Optimizer):
    """Sharpness-Aware Minimization, as in the davda54/sam repository:
    first_step climbs to w + e(w), second_step restores w and runs the base
    optimizer with the gradient taken at the perturbed point. Each param
    group may carry its own rho."""

    def __init__(self, param_groups, base_cls, rho=0.05, adaptive=False, **kwargs):
        defaults = dict(rho=rho, adaptive=adaptive, **kwargs)
        super().__init__(param_groups, defaults)
        self.base_optimizer = base_cls(self.param_groups, **kwargs)
        self.param_groups = self.base_optimizer.param_groups

    @torch.no_grad()
    def first_step(self):
        grad_norm = self._grad_norm()
        for group in self.param_groups:
            scale = group["rho"] / (grad_norm + 1e-12)
            for p in group["params"]:
                if p.grad is None:
                    continue
                self.state[p]["old_p"] = p.data.clone()
                e_w = (torch.pow(p, 2) if group["adaptive"] else 1.0) * p.grad * scale.to(p)
                p.add_(e_w)

    @torch.no_grad()
    def second_step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                p.data = self.state[p]["old_p"]
        self.base_optimizer.step()

    def _grad_norm(self):
        return torch.norm(torch.stack([
            ((torch.abs(p) if group["adaptive"] else 1.0) * p.grad).norm(p=2)
            for group in self.param_groups for p in group["params"] if p.grad is not None
        ]), p=2)


# -- the recipe --------------------------------------------------------------

def base_optimizer(opt):
    """(class, kwargs) of torch.optim for the recipe's optimizer table."""
    name = opt["name"]
    if ref_optim_extras.base_optimizer(opt):
        return ref_optim_extras.base_optimizer(opt)
    if name == "sgd":
        return torch.optim.SGD, dict(
            lr=opt["lr"], momentum=opt.get("momentum", 0), dampening=opt.get("dampening", 0),
            nesterov=bool(opt.get("nesterov", False)), weight_decay=opt.get("weight_decay", 0),
            foreach=False)
    if name in ("adam", "adamw"):
        betas = opt.get("betas", [0.9, 0.999])
        kw = dict(lr=opt.get("lr", 1e-3), betas=(betas[0], betas[1]), eps=opt.get("eps", 1e-8),
                  weight_decay=opt.get("weight_decay", 0 if name == "adam" else 0.01),
                  amsgrad=False, foreach=False, maximize=False)
        return (torch.optim.Adam if name == "adam" else torch.optim.AdamW), kw
    raise ValueError(f"oracle: unknown optimizer {name!r}")


def lr_at(recipe, t, total):
    """The schedule's closed form at optimizer step t (0-based). A warmup of
    W steps ramps linearly to lr, lr * (t + 1) / W for t < W, and the
    schedule then runs over the remaining total - W steps from its own step
    0: Hugging Face's get_cosine_schedule_with_warmup and timm's
    warmup_prefix, with the ramp ending at lr on its last step."""
    lr = base_optimizer(recipe["optimizer"])[1]["lr"]
    s = recipe.get("schedule") or {"name": "constant"}
    w = s.get("warmup", 0) or 0
    W = math.ceil(w) if w > 0 else 0
    if t < W:
        return lr * min(1.0, (t + 1) / w)
    t, total = t - W, max(total - W, 0)
    kind = s.get("name", "constant")
    if kind == "step":
        lr = lr * s.get("gamma", 0.1) ** math.floor(t / s["step_size"])
    elif kind == "cosine":
        T = s.get("t_max") or total
        eta_min = s.get("eta_min", 0)
        if T > 0:
            lr = eta_min + (lr - eta_min) * (1 + math.cos(math.pi * min(t, T) / T)) / 2
    elif kind != "constant":
        raise ValueError(f"oracle: unknown schedule {kind!r}")
    return lr


def _sam_rho(sam, name):
    for g in sam.get("groups") or []:
        if name.startswith(g["prefix"]):
            return g["rho"]
    return sam.get("rho", 0.05)


def train(model, init, batches, evaluate=False):
    """Runs len(batches) steps from `init`; returns dict name -> tensor in
    the layout of `samc steps` OUT (params, opt.<param>.<buffer>, the
    model's state, loss; with `evaluate`, eval.<loss|metric> of the model in
    evaluation mode on batch 0, as `samc steps --eval`)."""
    import ref_accum  # micro-batches: accumulate, m-sharpness
    if ref_accum.micro_count(model.recipe)[0] > 1:
        return ref_accum.train(model, init, batches, evaluate)
    opt = model.recipe["optimizer"]
    base_cls, kw = base_optimizer(opt)
    names = [n for n, _, _ in model.params]
    params = {n: init[n].clone().requires_grad_(True) for n in names}
    sam = opt.get("sam")
    # one param group per distinct rho (and optimizer group), in declaration order
    groups = ref_optim_extras.param_groups(opt, names, params,
                                           (lambda n: _sam_rho(sam, n)) if sam else None)
    if sam:
        optim = SAM(groups, base_cls,
                    rho=sam.get("rho", 0.05), adaptive=bool(sam.get("adaptive", False)), **kw)
        optim = ref_sam_variants.make(optim, names, params, sam, base_cls, kw, _sam_rho)
        base = optim.base_optimizer
        every = sam.get("every", 1)
    else:
        optim = base = base_cls(groups, **kw)
    look = ref_looksam_ema.LookSAM(sam, params, names)
    every = look.every(every if sam else 1)
    ema = ref_looksam_ema.EMA(model.recipe, params, names)
    ref_optim_extras.clip_in_step(opt, base, params.values())

    states = model.init_states(init[names[0]].dtype)

    def grads(bn="train"):
        optim.zero_grad(set_to_none=True)
        with ref_bf16.autocast(model.recipe):
            loss, _ = model.forward(params, batch, states, bn)
        loss.backward()
        return loss.detach()

    losses = []
    K = len(batches)
    for t, batch in enumerate(batches):
        batch = model.with_noise(batch, t, init[names[0]].dtype)
        for g in optim.param_groups:
            g["lr"] = lr_at(model.recipe, t, K) * g.get("lr_scale", 1.0)
        ref_sam_variants.at_step(optim, t, K)
        losses.append(grads())
        if sam and t % every == 0:
            look.save_g()
            optim.first_step()
            grads("bypass")  # only the first pass updates the running statistics
            look.store_gv()
            optim.second_step()
        else:
            look.mix()
            base.step()
        ema.update()

    out = {n: params[n].detach().clone() for n in names}
    for n in names:
        st = base.state.get(params[n], {})
        for buf in ("momentum_buffer", "exp_avg", "exp_avg_sq") + ref_optim_extras.BUFFERS:
            if st.get(buf) is not None:
                out[f"opt.{n}.{buf}"] = st[buf].detach().clone()
    for n, _, _ in model.states:
        out[n] = states[n].clone()
    out.update(look.state())
    out.update(ema.state())
    out["loss"] = torch.stack(losses)
    if evaluate:
        with torch.no_grad(), ref_bf16.autocast(model.recipe):
            loss, metrics = model.forward(ema.weights(params), batches[0], states, "eval")
        out["eval.loss"] = ref_bf16.result(loss.detach().clone())
        for k, v in metrics.items():
            out[f"eval.{k}"] = ref_bf16.result(v.detach().clone())
    return out
