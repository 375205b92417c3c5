-- Oracle model: LookSAM (k = 2) and an EMA of the weights (decay 0.8) on the
-- BatchNorm conv net of convnet_bn_sam.lua; `samc steps --eval` evaluates
-- with the EMA weights and the model's own running statistics. What
-- follows is convnet_bn_sam.lua's description: the conv net of the CNN
-- acceptance list. rho is 0.5, not 0.05: g_v = g_s - (<g, g_s>/||g||^2) g is
-- a difference of nearly parallel vectors, and at rho 0.05 f32's
-- cancellation left samc and PyTorch each ~1e-5 from the f64 run. conv2d with stride 2
-- and padding, and with groups 2; max and average pooling; BatchNorm after
-- each convolution (so the convolutions have no bias: BatchNorm's shift makes
-- a bias's gradient zero up to rounding, which no tolerance can compare); SAM around SGD with momentum and weight decay. Both SAM
-- passes normalise with their batch's statistics and only the first updates
-- running_mean, running_var and num_batches_tracked (PyTorch side: momentum 0
-- in the second pass); oracle.py also compares the eval program, which
-- normalises with the running statistics.
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
                sam = { rho = 0.5, looksam = { k = 2, alpha = 0.5 } } },
  ema = { decay = 0.8 },
  -- required by the front end; samc steps reads batches from a file instead
  data = { format = "idx",
           train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
           test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
           scale = 1/255, mean = 0.2860, std = 0.3530, drop_last = true },
}
