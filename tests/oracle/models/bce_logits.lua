-- Oracle model: binary_cross_entropy_with_logits on soft multi-label
-- targets (an input through sigmoid), with and without pos_weight (a
-- number: PyTorch does not differentiate a pos_weight tensor), under
-- SAM-SGD with momentum.
local B = batch_size(8)
local x = input("x", {B, 20})
local y = input("y", {B, 5})   -- targets, as logits
local h = tanh(linear(x, 16, {name = "fc1"}))
local logits = linear(h, 5, {name = "out"})
local target = sigmoid(y)
return {
  loss = binary_cross_entropy_with_logits(logits * 3, target)
       + 0.5 * binary_cross_entropy_with_logits(logits, target, {pos_weight = 2, reduction = "sum"})
       + 0.25 * mean(binary_cross_entropy_with_logits(logits, target, {pos_weight = 0.5, reduction = "none"})),
  epochs = 1, seed = 1,
  optimizer = { name = "sgd", lr = 0.1, momentum = 0.9, sam = { rho = 0.05 } },
  -- required by the front end; samc steps reads batches from a file instead
  data = { format = "idx",
           train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
           test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
           scale = 1/255, mean = 0.2860, std = 0.3530, drop_last = true },
}
