-- Oracle model: the optimizer extras and the EMA under gradient accumulation:
-- clip_grad_norm on the mean of four micro-batches' gradients, no weight decay
-- on biases, a group with its own lr and weight decay, an EMA after each step;
-- otherwise as before: SGD with momentum, Nesterov
-- and weight decay: four micro-batches of 2 per step of 8, their gradients
-- summed and divided by 4, one update (PyTorch: loss / 4 backward on each).
local B = batch_size(8)
local x = input("x", {B, 20})
local y = input("y", {B}, {dtype = "i32", classes = 5})
local h1 = relu(linear(x, 16, {name = "fc1"}))
local h2 = relu(linear(h1, 12, {name = "fc2"}))
local logits = linear(h2, 5, {name = "fc3"})
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 1, seed = 1,
  optimizer = { name = "sgd", lr = 0.05, momentum = 0.9, nesterov = true,
                weight_decay = 1e-3, accumulate = 4, clip_grad_norm = 0.3, no_decay = {"bias"},
                groups = {{prefix = "fc1.", lr_scale = 2, weight_decay = 1e-2}} },
  ema = { decay = 0.9 },
  -- required by the front end; samc steps reads batches from a file instead
  data = { format = "idx",
           train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
           test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
           scale = 1/255, mean = 0.2860, std = 0.3530, drop_last = true },
}
