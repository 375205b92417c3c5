-- Oracle model: max_pool2d (overlapping windows, padding), avg_pool2d
-- (count_include_pad = false) and adaptive_avg_pool2d (windows that do
-- not divide the input) under SAM around SGD with momentum; relu's zeros
-- give the max pools ties. oracle.py checks `samc steps` against PyTorch.
local B = batch_size(8)
local x = input("x", {B, 20})
local y = input("y", {B}, {dtype = "i32", classes = 5})
local img = relu(reshape(linear(x, 32, {name = "fc1"}), {B, 2, 4, 4}))
local h = max_pool2d(img, 3, 1, 1)                  -- [B,2,4,4]
h = avg_pool2d(h, 2, 1, 1, false)                   -- [B,2,5,5]
h = max_pool2d(h, {2, 3}, {1, 2})                   -- [B,2,4,2]
h = adaptive_avg_pool2d(h, {3, 2})                  -- [B,2,3,2]
local logits = linear(reshape(h, {B, 12}), 5, {name = "fc2"})
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 1, seed = 1,
  optimizer = { name = "sgd", lr = 0.05, momentum = 0.9, sam = { rho = 0.05 } },
  -- required by the front end; samc steps reads batches from a file instead
  data = { format = "idx",
           train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
           test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
           scale = 1/255, mean = 0.2860, std = 0.3530, drop_last = true },
}
