-- tiny_mlp.lua - the same data and recipe as tiny_linear.lua with a hidden
-- layer (784 -> 32 -> 10): a different model whose checkpoints
-- tiny_linear.lua must refuse.
local B = batch_size(16)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local h = relu(linear(x, 32, {name = "fc1"}))
local logits = linear(h, 10, {name = "fc"})
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 2,
  seed = 3,
  optimizer = { name = "sgd", lr = 0.1, momentum = 0.9, sam = { rho = 0.05 } },
  schedule = { name = "constant" },
  data = {
    format = "idx",
    train = { x = "train-images.idx.gz", y = "train-labels.idx.gz" },
    test  = { x = "test-images.idx", y = "test-labels.idx" },
    scale = 1 / 255, mean = 0.5, std = 0.25,
    drop_last = true,
  },
}
