-- Oracle model: flatten, narrow (negative dim and start included) and cat
-- of three inputs, one of them used twice, under SAM-SGD with momentum.
local B = batch_size(8)
local x = input("x", {B, 24})
local y = input("y", {B}, {dtype = "i32", classes = 5})
local img = reshape(x, {B, 2, 3, 4})
local left = narrow(img, 3, 0, 3)                     -- [B, 2, 3, 3]
local right = narrow(img, -1, -2, 2)                  -- [B, 2, 3, 2]
local feats = flatten(cat({left, right}, -1))         -- [B, 30]
local h1 = tanh(linear(feats, 12, {name = "fc1"}))
local h2 = relu(linear(narrow(feats, 1, 6, 18), 6, {name = "fc2"}))
local h = cat({h1, h2, h1 * 0.5}, 1)                  -- [B, 30]
local logits = linear(h, 5, {name = "out"})
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
