-- tiny_cnn.lua - a small conv net on Fashion-MNIST for the CUDA device's
-- convolution tests (cuda_dnn_standin.py): a strided convolution with a
-- bias, a grouped one without (then BatchNorm), pooling, a linear head;
-- small enough that a few dozen steps take seconds through host stand-ins.
local B = batch_size(16)
local x = input("x", {B, 1, 28, 28})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local h = relu(conv2d(x, 4, 3, {stride = 2, padding = 1, name = "conv1"}))   -- [B,4,14,14]
h = max_pool2d(h, 2)                                                         -- [B,4,7,7]
h = conv2d(h, 8, 3, {padding = 1, groups = 2, bias = false, name = "conv2"}) -- [B,8,7,7]
h = relu(batch_norm(h, {name = "bn2"}))
h = avg_pool2d(h, 2)                                                         -- [B,8,3,3]
local logits = linear(flatten(h), 10, {name = "fc"})
local dir = "/usr/share/datasets/fashion-mnist/"
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 1,
  seed = 5,
  optimizer = { name = "sgd", lr = 0.05, momentum = 0.9, weight_decay = 5e-4,
                sam = { rho = 0.05 } },
  schedule = { name = "constant" },
  data = {
    format = "idx",
    train = { x = dir .. "train-images-idx3-ubyte.gz", y = dir .. "train-labels-idx1-ubyte.gz" },
    test  = { x = dir .. "t10k-images-idx3-ubyte.gz",  y = dir .. "t10k-labels-idx1-ubyte.gz" },
    scale = 1 / 255, mean = 0.2860, std = 0.3530,
    drop_last = true,
  },
}
