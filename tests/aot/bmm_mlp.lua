-- bmm_mlp.lua - a Fashion-MNIST model with batched products (a batch of
-- h·hᵀ and of h·W per example) under SAM, for `samc build`'s table of
-- batched GEMMs: tests/aot/run.sh checks its trainer against the JIT.
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local h = reshape(tanh(linear(x, 64, {name = "fc1"})), {B, 8, 8})
local gram = matmul(h, transpose(h, 1, 2)) * 0.125               -- [B,8,8]
local mix = matmul(gram, reshape(linear(x, 64, {name = "fc2"}), {B, 8, 8}))
local logits = linear(reshape(mix, {B, 64}), 10, {name = "out"})
local dir = "/usr/share/datasets/fashion-mnist/"
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 1,
  seed = 5,
  optimizer = { name = "sgd", lr = 0.01, momentum = 0.9, sam = { rho = 0.05 } },
  data = {
    format = "idx",
    train = { x = dir .. "train-images-idx3-ubyte.gz", y = dir .. "train-labels-idx1-ubyte.gz" },
    test  = { x = dir .. "t10k-images-idx3-ubyte.gz",  y = dir .. "t10k-labels-idx1-ubyte.gz" },
    scale = 1 / 255, mean = 0.2860, std = 0.3530,
    drop_last = true,
  },
}
