-- dropout_mlp.lua - Fashion-MNIST MLP with dropout under SAM: resume.py
-- checks that a stopped and resumed run draws the same masks as an
-- uninterrupted one (each mask is a function of seed, step and layer).
local B = batch_size(64)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local h = dropout(relu(linear(x, 64, {name = "fc1"})), 0.5)
local logits = linear(dropout(h, 0.2, {name = "drop_fc2"}), 10, {name = "fc2"})
local dir = "/usr/share/datasets/fashion-mnist/"
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 2,
  seed = 11,
  optimizer = { name = "sgd", lr = 0.05, momentum = 0.9, sam = { rho = 0.05 } },
  data = {
    format = "idx",
    train = { x = dir .. "train-images-idx3-ubyte.gz", y = dir .. "train-labels-idx1-ubyte.gz" },
    test  = { x = dir .. "t10k-images-idx3-ubyte.gz",  y = dir .. "t10k-labels-idx1-ubyte.gz" },
    scale = 1 / 255, mean = 0.2860, std = 0.3530,
    drop_last = true,
  },
}
