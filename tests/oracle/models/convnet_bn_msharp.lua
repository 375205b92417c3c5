-- Oracle model: the conv net of convnet_bn_sam.lua with m-sharpness, m = 2:
-- each micro-batch of 4 normalised with its own statistics in both of its
-- passes, perturbed by its own gradient; the running statistics move on
-- each micro-batch's first pass.
local B = batch_size(8)
local x = input("x", {B, 3, 12, 12})
local y = input("y", {B}, {dtype = "i32", classes = 5})
local h = conv2d(x, 8, 3, {stride = 2, padding = 1, bias = false, name = "conv1"})  -- [B,8,6,6]
h = relu(batch_norm(h, {name = "bn1"}))
h = max_pool2d(h, 2)                                                               -- [B,8,3,3]
h = conv2d(h, 8, 3, {padding = 1, groups = 2, bias = false, name = "conv2"})       -- [B,8,3,3]
h = relu(batch_norm(h, {name = "bn2", momentum = 0.2}))
h = avg_pool2d(h, 2, 1)                                                            -- [B,8,2,2]
local logits = linear(flatten(h), 5, {name = "fc"})
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 1, seed = 1,
  optimizer = { name = "sgd", lr = 0.05, momentum = 0.9, weight_decay = 5e-4,
                sam = { rho = 0.05, m = 2 } },
  -- required by the front end; samc steps reads batches from a file instead
  data = { format = "idx",
           train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
           test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
           scale = 1/255, mean = 0.2860, std = 0.3530, drop_last = true },
}
