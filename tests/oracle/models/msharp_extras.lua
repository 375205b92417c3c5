-- Oracle model: micro-batches with the optimizer extras and the EMA: m-sharpness
-- (m = 2) around RMSprop with momentum, clip_grad_norm on the averaged second
-- gradient, no weight decay on biases, a group with its own lr, and an EMA
-- of the weights after each optimizer step (the eval program reads it).
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
  optimizer = { name = "rmsprop", lr = 0.003, alpha = 0.95, momentum = 0.5,
                weight_decay = 1e-3, clip_grad_norm = 0.5, no_decay = {"bias"},
                groups = {{prefix = "fc3.", lr_scale = 0.5}}, sam = { rho = 0.05, m = 2 } },
  ema = { decay = 0.8 },
  -- required by the front end; samc steps reads batches from a file instead
  data = { format = "idx",
           train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
           test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
           scale = 1/255, mean = 0.2860, std = 0.3530, drop_last = true },
}
