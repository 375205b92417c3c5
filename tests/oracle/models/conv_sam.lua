-- Oracle model: conv2d with stride 2 and padding, with dilation 2 and
-- groups 2, and a 1x1 without bias, under SAM around SGD with momentum
-- and weight decay. oracle.py checks `samc steps` against PyTorch.
local B = batch_size(4)
local x = input("x", {B, 3, 9, 9})
local y = input("y", {B}, {dtype = "i32", classes = 5})
local h = relu(conv2d(x, 8, 3, {stride = 2, padding = 1, name = "stem"}))   -- [B,8,5,5]
h = relu(conv2d(h, 6, 3, {padding = 2, dilation = 2, groups = 2}))         -- conv1 [B,6,5,5]
h = conv2d(h, 4, 1, {bias = false, stride = {1, 2}})                        -- conv2 [B,4,5,3]
local logits = linear(reshape(h, {B, 60}), 5, {name = "fc"})
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 1, seed = 1,
  optimizer = { name = "sgd", lr = 0.05, momentum = 0.9, weight_decay = 5e-4, sam = { rho = 0.05 } },
  -- required by the front end; samc steps reads batches from a file instead
  data = { format = "idx",
           train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
           test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
           scale = 1/255, mean = 0.2860, std = 0.3530, drop_last = true },
}
