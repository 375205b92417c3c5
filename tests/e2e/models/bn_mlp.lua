-- bn_mlp.lua - an MLP with batch_norm (784 -> 64 -> BN -> relu -> 10) under
-- SAM on Fashion-MNIST: its checkpoints carry the running statistics, must
-- resume bit for bit (resume.py) and load into the equivalent torch.nn
-- model with load_state_dict(strict=True) (bn_state_dict.py).
local B = batch_size(32)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local h = relu(batch_norm(linear(x, 64, {name = "fc1"}), {name = "bn1"}))
local logits = linear(h, 10, {name = "fc2"})
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 2,
  seed = 5,
  optimizer = { name = "sgd", lr = 0.05, momentum = 0.9, weight_decay = 5e-4,
                sam = { rho = 0.05 } },
  data = {
    format = "idx",
    train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz",
              y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
    test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
              y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
    scale = 1 / 255, mean = 0.2860, std = 0.3530,
    drop_last = true,
  },
}
