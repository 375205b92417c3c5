-- batch_norm on a 2-D input and on an NCHW input under SGD with momentum
-- and weight decay (tests/dist/sync_bn.py): the oracle models' bn_sam.lua
-- without SAM, and without fc1's bias (BatchNorm's shift makes its
-- gradient zero up to rounding, which no f32 tolerance can compare).
local B = batch_size(8)
local x = input("x", {B, 20})
local y = input("y", {B}, {dtype = "i32", classes = 5})
local h = relu(batch_norm(linear(x, 32, {name = "fc1", bias = false})))                -- bn1: [B,32]
local img = reshape(h, {B, 2, 4, 4})
img = relu(batch_norm(img, {name = "bn2", momentum = 0.3, eps = 1e-3}))  -- [B,2,4,4]
local logits = linear(reshape(img, {B, 32}), 5, {name = "fc2"})
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 1, seed = 1,
  optimizer = { name = "sgd", lr = 0.05, momentum = 0.9, weight_decay = 0.01 },
  -- required by the front end; samc steps reads batches from a file instead
  data = { format = "idx",
           train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
           test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
           scale = 1/255, mean = 0.2860, std = 0.3530, drop_last = true },
}
