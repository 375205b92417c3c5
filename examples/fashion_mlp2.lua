-- fashion_mlp2.lua - a two-hidden-layer MLP on Fashion-MNIST
-- (784 -> 512 -> 256 -> 10, ReLU), SAM (rho = 0.05) around SGD with
-- momentum, a cosine schedule after a short linear warmup.
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local h1 = relu(linear(x, 512, {name = "fc1"}))
local h2 = relu(linear(h1, 256, {name = "fc2"}))
local logits = linear(h2, 10, {name = "fc3"})
local dir = "/usr/share/datasets/fashion-mnist/"
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 2,
  seed = 1,
  optimizer = {
    name = "sgd", lr = 0.05, momentum = 0.9, weight_decay = 5e-4,
    sam = { rho = 0.05 },
  },
  schedule = { name = "cosine", warmup = 100 },
  data = {
    format = "idx",
    train = { x = dir .. "train-images-idx3-ubyte.gz", y = dir .. "train-labels-idx1-ubyte.gz" },
    test  = { x = dir .. "t10k-images-idx3-ubyte.gz",  y = dir .. "t10k-labels-idx1-ubyte.gz" },
    scale = 1 / 255, mean = 0.2860, std = 0.3530,
    drop_last = true,
  },
}
