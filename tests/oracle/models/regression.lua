-- Oracle model: regression with mse_loss on a hand-built layer (param(),
-- matmul, transpose, broadcasting, reductions, pow and scalar arithmetic),
-- under SAM-SGD with a step schedule.
local B = batch_size(8)
local x = input("x", {B, 6})
local y = input("y", {B, 3})
local w = param("w", {6, 10}, {init = "normal", mean = 0, std = 0.3})
local b = param("b", {10}, {init = "zeros"})
local h = tanh(matmul(x, w) + b)
local v = param("v", {3, 10}, {init = "uniform", a = -0.3, b = 0.3})
local s = param("s", {1}, {init = "ones"})
local pred = matmul(h, transpose(v, 0, 1)) * s - 0.1 * mean(h, 1, true)
local reg = sum(w ^ 2) / 100 + 0.01 * mean(abs(v))
return {
  loss = mse_loss(pred, y) + reg,
  metrics = { biggest = max(pred) },
  epochs = 1, seed = 1,
  optimizer = { name = "sgd", lr = 0.05, momentum = 0.5, sam = { rho = 0.05 } },
  schedule = { name = "step", step_size = 4, gamma = 0.5 },
  -- required by the front end; samc steps reads batches from a file instead
  data = { format = "idx",
           train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
           test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
           scale = 1/255, mean = 0.2860, std = 0.3530, drop_last = true },
}
