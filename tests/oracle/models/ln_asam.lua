-- Oracle model: a residual block with layer_norm (over one trailing dim and
-- over two) under ASAM (adaptive SAM) around SGD with momentum.
local B = batch_size(8)
local x = input("x", {B, 12})
local y = input("y", {B}, {dtype = "i32", classes = 4})
local h = linear(x, 16, {name = "fc0"})
local r = linear(gelu(linear(layer_norm(h, 16), 16, {name = "fc1"})), 16, {name = "fc2"})
h = h + r                                                        -- the residual add
local z = layer_norm(reshape(h, {B, 4, 4}), {4, 4}, {name = "ln_out", eps = 1e-4})
local logits = linear(reshape(z, {B, 16}), 4, {name = "head"})
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 1, seed = 1,
  optimizer = { name = "sgd", lr = 0.05, momentum = 0.9,
                sam = { rho = 0.5, adaptive = true } },
  -- required by the front end; samc steps reads batches from a file instead
  data = { format = "idx",
           train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
           test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
           scale = 1/255, mean = 0.2860, std = 0.3530, drop_last = true },
}
