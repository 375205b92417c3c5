-- Oracle model: the remaining tensor functions (reshape, max/mean over a
-- dim, exp, log, sqrt, softmax, log_softmax, unary minus, division) in a
-- soft-target cross-entropy written by hand, under Adam with a cosine
-- schedule spanning the run (no t_max) and a linear warmup.
local B = batch_size(8)
local x = input("x", {B, 20})
local y = input("y", {B, 5})   -- soft targets, as logits
local h = tanh(linear(x, 16, {name = "fc1"}))   -- tanh: no ties for max()
local g = reshape(h, {B, 4, -1})
local pooled = reshape(max(g, 2) + mean(g, -1, false), {B, -1})
local z = linear(pooled, 5, {name = "head"})
local scale = param("scale", {1, 5}, {init = "ones"})
local logits = z * sqrt(exp(scale) + 1) - log(1 + sigmoid(z)) / 2
local loss = -mean(sum(log_softmax(logits, 1) * softmax(y, 1), 1))
return {
  loss = loss,
  metrics = { confidence = mean(max(softmax(logits, -1), 1)) },
  epochs = 1, seed = 1,
  optimizer = { name = "adam", lr = 0.02 },
  schedule = { name = "cosine", eta_min = 0.002, warmup = 2 },
  -- required by the front end; samc steps reads batches from a file instead
  data = { format = "idx",
           train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
           test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
           scale = 1/255, mean = 0.2860, std = 0.3530, drop_last = true },
}
