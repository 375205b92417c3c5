-- chain_50k.lua - a linear layer whose logits pass through 50,000
-- elementwise ops (alternating h * 1.0001 and h - 0.0001, which simplify
-- cannot fold away) before the loss: every walk over the graph and the
-- loop IR must keep its own stack for this to compile (tests/e2e/deep_chain.sh).
local B = batch_size(16)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local h = linear(x, 10, {name = "fc"})
for _ = 1, 25000 do
  h = h * 1.0001
  h = h - 0.0001
end
local dir = "/usr/share/datasets/fashion-mnist/"
return {
  loss = cross_entropy(h, y),
  metrics = { accuracy = accuracy(h, y) },
  epochs = 1,
  seed = 1,
  optimizer = { name = "sgd", lr = 0.01, momentum = 0.9 },
  schedule = { name = "constant" },
  data = {
    format = "idx",
    train = { x = dir .. "train-images-idx3-ubyte.gz", y = dir .. "train-labels-idx1-ubyte.gz" },
    test  = { x = dir .. "t10k-images-idx3-ubyte.gz",  y = dir .. "t10k-labels-idx1-ubyte.gz" },
    scale = 1 / 255, mean = 0.2860, std = 0.3530,
    drop_last = true, limit_train = 64, limit_test = 64,
  },
}
