-- mlp_groups.lua - a small Fashion-MNIST MLP trained with SAM groups: fc1
-- has a rho of its own, fc2 follows optimizer.sam.rho, and weight decay is
-- on. tests/aot/run.sh changes these values with --set in a built trainer.
local B = batch_size(64)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local h = relu(linear(x, 32, {name = "fc1"}))
local logits = linear(h, 10, {name = "fc2"})
local dir = "/usr/share/datasets/fashion-mnist/"
return {
  loss = cross_entropy(logits, y),
  epochs = 1,
  seed = 3,
  optimizer = {
    name = "sgd", lr = 0.05, momentum = 0.9, dampening = 0.1, weight_decay = 5e-4,
    sam = { rho = 0.05, groups = { {prefix = "fc1.", rho = 0.2} } },
  },
  data = {
    format = "idx",
    train = { x = dir .. "train-images-idx3-ubyte.gz", y = dir .. "train-labels-idx1-ubyte.gz" },
    test  = { x = dir .. "t10k-images-idx3-ubyte.gz",  y = dir .. "t10k-labels-idx1-ubyte.gz" },
    scale = 1 / 255, limit_train = 640, limit_test = 128,
  },
}
