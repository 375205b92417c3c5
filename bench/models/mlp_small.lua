-- mlp_small.lua - benchmark model: MLP 784 -> 256 -> 10 (ReLU), batch 128,
-- SAM (rho = 0.05) around SGD with momentum 0.9. bench/torch_sam.py builds
-- the same network and optimizer in PyTorch. The data entry is required by
-- the front end; the benchmark feeds random batches instead.
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local h = relu(linear(x, 256, {name = "fc1"}))
local logits = linear(h, 10, {name = "fc2"})
local dir = "/usr/share/datasets/fashion-mnist/"
return {
  loss = cross_entropy(logits, y),
  epochs = 1, seed = 1,
  optimizer = { name = "sgd", lr = 0.05, momentum = 0.9, weight_decay = 0,
                sam = { rho = 0.05 } },
  schedule = { name = "constant" },
  data = {
    format = "idx",
    train = { x = dir .. "train-images-idx3-ubyte.gz", y = dir .. "train-labels-idx1-ubyte.gz" },
    test  = { x = dir .. "t10k-images-idx3-ubyte.gz",  y = dir .. "t10k-labels-idx1-ubyte.gz" },
    scale = 1 / 255, mean = 0.2860, std = 0.3530, drop_last = true,
  },
}
