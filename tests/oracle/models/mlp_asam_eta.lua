-- Oracle model: ASAM with the official code's operator T_w = |w| + eta on
-- the *.weight params only (the biases' ascent is plain SAM's), and rho on
-- a step schedule (halved every 3 steps). An MLP 20 -> 16 -> 12 -> 5 around
-- SGD with momentum.
local B = batch_size(8)
local x = input("x", {B, 20})
local y = input("y", {B}, {dtype = "i32", classes = 5})
local h1 = relu(linear(x, 16, {name = "fc1"}))
local h2 = tanh(linear(h1, 12, {name = "fc2"}))
local logits = linear(h2, 5, {name = "fc3"})
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 1, seed = 1,
  optimizer = { name = "sgd", lr = 0.05, momentum = 0.9,
                sam = { rho = 0.5, adaptive = true, eta = 0.01, only = "weights",
                        rho_schedule = { name = "step", step_size = 3, gamma = 0.5 } } },
  -- required by the front end; samc steps reads batches from a file instead
  data = { format = "idx",
           train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
           test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
           scale = 1/255, mean = 0.2860, std = 0.3530, drop_last = true },
}
