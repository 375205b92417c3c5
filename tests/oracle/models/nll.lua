-- Oracle model: nll_loss over log_softmax (as cross_entropy, but through
-- the two ops), under SAM-SGD.
local B = batch_size(8)
local x = input("x", {B, 20})
local y = input("y", {B}, {dtype = "i32", classes = 5})
local h = tanh(linear(x, 16, {name = "fc1"}))
local logits = linear(h, 5, {name = "out"})
return {
  loss = nll_loss(log_softmax(logits, 1), y) + 0.1 * nll_loss(log_softmax(logits * 2, 1), y, {reduction = "sum"}),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 1, seed = 1,
  optimizer = { name = "sgd", lr = 0.1, sam = { rho = 0.05 } },
  -- required by the front end; samc steps reads batches from a file instead
  data = { format = "idx",
           train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
           test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
           scale = 1/255, mean = 0.2860, std = 0.3530, drop_last = true },
}
