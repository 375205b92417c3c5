-- Oracle model: GSAM (update g_p - alpha * g's part orthogonal to g_p)
-- with GSAM's rho schedule, rho following the cosine learning rate from
-- rho down to rho_min, for the groups' rho too (fc1.'s from 0.2). An MLP
-- 20 -> 16 -> 12 -> 5 around SGD with momentum and weight decay.
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
  optimizer = { name = "sgd", lr = 0.05, momentum = 0.9, weight_decay = 5e-4,
                sam = { rho = 0.1, groups = { {prefix = "fc1.", rho = 0.2} },
                        rho_schedule = { name = "lr", rho_min = 0.02 },
                        gsam = { alpha = 0.3 } } },
  schedule = { name = "cosine", warmup = 2 },
  -- required by the front end; samc steps reads batches from a file instead
  data = { format = "idx",
           train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
           test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
           scale = 1/255, mean = 0.2860, std = 0.3530, drop_last = true },
}
