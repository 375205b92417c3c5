-- cnn_small.lua - a small convolutional net on Fashion-MNIST images: a
-- padded convolution, max pooling, a strided grouped convolution, SAM around
-- SGD. tests/aot/run.sh checks that its trainer equals the JIT (the CPU
-- backend runs its f32 convolutions through oneDNN).
local B = batch_size(32)
local x = input("x", {B, 1, 28, 28})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local h = relu(conv2d(x, 8, 3, {padding = 1, name = "conv1"}))
h = max_pool2d(h, 2)
h = relu(conv2d(h, 16, 3, {stride = 2, padding = 1, groups = 2, name = "conv2"}))
local logits = linear(flatten(h), 10, {name = "fc"})
local dir = "/usr/share/datasets/fashion-mnist/"
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 1, seed = 2,
  optimizer = { name = "sgd", lr = 0.05, momentum = 0.9, weight_decay = 5e-4, sam = { rho = 0.05 } },
  data = {
    format = "idx",
    train = { x = dir .. "train-images-idx3-ubyte.gz", y = dir .. "train-labels-idx1-ubyte.gz" },
    test  = { x = dir .. "t10k-images-idx3-ubyte.gz",  y = dir .. "t10k-labels-idx1-ubyte.gz" },
    scale = 1 / 255, mean = 0.2860, std = 0.3530, limit_train = 640, limit_test = 128, drop_last = true,
  },
}
