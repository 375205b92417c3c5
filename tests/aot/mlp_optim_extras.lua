-- mlp_optim_extras.lua - a small Fashion-MNIST MLP under SAM around
-- RMSprop (centered, momentum, weight decay) with clipping by global norm,
-- no weight decay on biases and per-layer groups. tests/aot/optim_extras.sh
-- builds a trainer from it, changes the values its steps read with --set and
-- resumes it; tests/e2e/resume.py resumes it in samc.
local B = batch_size(64)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local h = relu(linear(x, 32, {name = "fc1"}))
local logits = linear(h, 10, {name = "fc2"})
local dir = "/usr/share/datasets/fashion-mnist/"
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 1,
  seed = 3,
  optimizer = {
    name = "rmsprop", lr = 1e-3, alpha = 0.95, momentum = 0.5, centered = true,
    weight_decay = 1e-3, clip_grad_norm = 2.0, no_decay = {"bias"},
    groups = { {prefix = "fc1.", lr_scale = 0.5}, {prefix = "fc2.", weight_decay = 1e-2} },
    sam = { rho = 0.05 },
  },
  data = {
    format = "idx",
    train = { x = dir .. "train-images-idx3-ubyte.gz", y = dir .. "train-labels-idx1-ubyte.gz" },
    test  = { x = dir .. "t10k-images-idx3-ubyte.gz",  y = dir .. "t10k-labels-idx1-ubyte.gz" },
    scale = 1 / 255, limit_train = 640, limit_test = 128,
  },
}
