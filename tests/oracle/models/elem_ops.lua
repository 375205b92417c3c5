-- Oracle model: leaky_relu, softplus, clamp, maximum, minimum, a comparison
-- and where, under SAM-SGD with momentum.
local B = batch_size(8)
local x = input("x", {B, 20})
local y = input("y", {B}, {dtype = "i32", classes = 5})
local h1 = leaky_relu(linear(x, 16, {name = "fc1"}), 0.1)
local h2 = softplus(linear(h1, 12, {name = "fc2"}), 2, 3)
local h3 = clamp(linear(h2, 12, {name = "fc3"}), -0.5, 0.75)
local h4 = maximum(h3, 0.25 * h2) + minimum(h3, 0)
local h5 = where(gt(h4, 0.1), h4, 0.5 * h4) + clamp(h4, nil, 0.3)
local logits = linear(h5, 5, {name = "out"})
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 1, seed = 1,
  optimizer = { name = "sgd", lr = 0.1, momentum = 0.9, sam = { rho = 0.05 } },
  -- required by the front end; samc steps reads batches from a file instead
  data = { format = "idx",
           train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
           test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
           scale = 1/255, mean = 0.2860, std = 0.3530, drop_last = true },
}
