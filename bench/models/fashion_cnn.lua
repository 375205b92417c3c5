-- fashion_cnn.lua - benchmark model: examples/fashion_cnn.lua's network and recipe
-- at batch 128 (the example trains at 64). bench/torch_sam.py builds the same
-- network and optimizer in PyTorch; the benchmark feeds random batches.
local B = batch_size(128)
local x = input("x", {B, 1, 28, 28})
local y = input("y", {B}, {dtype = "i32", classes = 10})

-- conv 3x3 (no bias: BatchNorm's shift replaces it), BatchNorm, ReLU, 2x2 max pool
local function block(h, channels, n)
  h = conv2d(h, channels, 3, {padding = 1, bias = false, name = "conv" .. n})
  h = relu(batch_norm(h, {name = "bn" .. n}))
  return max_pool2d(h, 2)
end

local h = block(x, 32, 1)                 -- [B,32,14,14]
h = block(h, 64, 2)                       -- [B,64,7,7]
h = block(h, 128, 3)                      -- [B,128,3,3]
h = relu(linear(flatten(h), 256, {name = "fc1"}))
local logits = linear(h, 10, {name = "fc2"})
local dir = "/usr/share/datasets/fashion-mnist/"
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 3,
  seed = 1,
  optimizer = {
    name = "sgd", lr = 0.05, momentum = 0.9, weight_decay = 5e-4,
    sam = { rho = 0.05 },
  },
  schedule = { name = "cosine" },
  data = {
    format = "idx",
    train = { x = dir .. "train-images-idx3-ubyte.gz", y = dir .. "train-labels-idx1-ubyte.gz" },
    test  = { x = dir .. "t10k-images-idx3-ubyte.gz",  y = dir .. "t10k-labels-idx1-ubyte.gz" },
    scale = 1 / 255, mean = 0.2860, std = 0.3530,
    drop_last = true,
  },
}
