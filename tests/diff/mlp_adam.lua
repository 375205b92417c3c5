-- mlp_adam.lua - a small two-layer MLP trained with SAM around Adam, for the
-- CPU backend's differential tests (the data paths are never read there).
local B = batch_size(8)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local h1 = gelu(linear(x, 64, {name = "fc1"}))
local h2 = tanh(linear(h1, 32, {name = "fc2"}))
local logits = linear(h2, 10, {name = "fc3"})
local dir = "/usr/share/datasets/fashion-mnist/"
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 1,
  seed = 1,
  optimizer = {
    name = "adam", lr = 0.001, weight_decay = 1e-4,
    sam = { rho = 0.05, adaptive = true },
  },
  schedule = { name = "constant" },
  data = {
    format = "idx",
    train = { x = dir .. "train-images-idx3-ubyte.gz", y = dir .. "train-labels-idx1-ubyte.gz" },
    test  = { x = dir .. "t10k-images-idx3-ubyte.gz",  y = dir .. "t10k-labels-idx1-ubyte.gz" },
    scale = 1 / 255,
  },
}
