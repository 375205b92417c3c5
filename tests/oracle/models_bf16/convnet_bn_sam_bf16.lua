-- Oracle model, bf16: the BatchNorm conv net of convnet_bn_sam.lua (conv2d
-- with stride 2 and padding, and with groups 2; max and average pooling;
-- BatchNorm after each convolution; SAM around SGD with momentum and weight
-- decay) with precision = "bf16". PyTorch side: the forward pass under
-- torch.autocast("cpu", dtype=torch.bfloat16) (ref_bf16.py). Two changes
-- from the f32 net keep PyTorch's bf16 kernels to one rounding per result,
-- which samc reproduces: batch 32 and 16 -> 10 features make the linear
-- layer's GEMMs oneDNN's (batch * in * out > 16^3; ATen's own loops round
-- as they accumulate), and the average pool's windows do not overlap
-- (ATen's bf16 avg_pool2d backward rounds after each of a gradient's
-- overlapping contributions; samc sums them in f32 and rounds once).
local B = batch_size(32)
local x = input("x", {B, 3, 12, 12})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local h = conv2d(x, 8, 3, {stride = 2, padding = 1, bias = false, name = "conv1"})  -- [B,8,6,6]
h = relu(batch_norm(h, {name = "bn1"}))
h = max_pool2d(h, 2)                                                               -- [B,8,3,3]
h = conv2d(h, 16, 3, {padding = 1, groups = 2, bias = false, name = "conv2"})      -- [B,16,3,3]
h = relu(batch_norm(h, {name = "bn2", momentum = 0.2}))
h = avg_pool2d(h, 3)                                                               -- [B,16,1,1]
local logits = linear(flatten(h), 10, {name = "fc"})
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 1, seed = 1,
  precision = "bf16",
  optimizer = { name = "sgd", lr = 0.05, momentum = 0.9, weight_decay = 5e-4,
                sam = { rho = 0.05 } },
  -- required by the front end; samc steps reads batches from a file instead
  data = { format = "idx",
           train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
           test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
           scale = 1/255, mean = 0.2860, std = 0.3530, drop_last = true },
}
