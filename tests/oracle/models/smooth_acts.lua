-- Oracle model: gelu, tanh and sigmoid activations, cross-entropy with
-- label smoothing, an unnamed layer and a bias-free one, under SAM-Adam.
local B = batch_size(8)
local x = input("x", {B, 20})
local y = input("y", {B}, {dtype = "i32", classes = 5})
local h1 = gelu(linear(x, 16, {name = "fc1"}))
local h2 = tanh(linear(h1, 12))
local h3 = sigmoid(linear(h2, 12, {name = "fc3", bias = false}))
local logits = linear(h3, 5, {name = "out"})
return {
  loss = cross_entropy(logits, y, {label_smoothing = 0.1}),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 1, seed = 1,
  optimizer = { name = "adam", lr = 0.01, sam = { rho = 0.1 } },
  -- required by the front end; samc steps reads batches from a file instead
  data = { format = "idx",
           train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
           test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
           scale = 1/255, mean = 0.2860, std = 0.3530, drop_last = true },
}
