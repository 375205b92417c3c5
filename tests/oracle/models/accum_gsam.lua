-- Oracle model: gradient accumulation (two micro-batches of 4) of a GSAM
-- step on an ASAM ascent with eta, only = "weights" and rho following a
-- cosine lr: the perturbation from the accumulated first gradient, GSAM's
-- decomposition of the accumulated first gradient against the accumulated
-- second one.
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
  optimizer = { name = "sgd", lr = 0.05, momentum = 0.9, accumulate = 2,
                sam = { rho = 0.5, adaptive = true, eta = 0.01, only = "weights",
                        rho_schedule = { name = "lr", rho_min = 0.1 },
                        gsam = { alpha = 0.3 } } },
  schedule = { name = "cosine" },
  -- required by the front end; samc steps reads batches from a file instead
  data = { format = "idx",
           train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
           test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
           scale = 1/255, mean = 0.2860, std = 0.3530, drop_last = true },
}
