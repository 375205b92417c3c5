-- resnet.lua - a CIFAR-style ResNet-20 (He et al., 2016: three stages of three
-- basic blocks, 16/32/64 channels, BatchNorm, residual adds, global average
-- pooling) trained with SAM (rho = 0.05) around SGD with momentum, weight
-- decay 5e-4 and label smoothing 0.1, on randomly cropped and flipped images,
-- with a cosine schedule: the recipe of the SAM papers' CIFAR experiments.
--
--   samc examples/resnet.lua                     Fashion-MNIST (Debian's files)
--   samc examples/resnet.lua --arg dataset=cifar10 --data DIR
--                                                CIFAR-10's binary files in DIR
--   samc examples/resnet.lua --arg blocks=9       ResNet-56 (6n+2 layers, n blocks a stage)
-- A stride-2 block's shortcut is a 1x1 convolution with BatchNorm (the
-- projection shortcut, "option B" of the paper).
local dataset = arg("dataset", "fashion")
local blocks = arg("blocks", 3)
assert(dataset == "fashion" or dataset == "cifar10",
       "--arg dataset must be fashion or cifar10, got " .. tostring(dataset))
local cifar = dataset == "cifar10"
local B = batch_size(128)
local x = input("x", cifar and {B, 3, 32, 32} or {B, 1, 28, 28})
local y = input("y", {B}, {dtype = "i32", classes = 10})

local function conv_bn(h, channels, kernel, stride, name)
  h = conv2d(h, channels, kernel, {stride = stride, padding = kernel // 2, bias = false,
                                    name = name .. ".conv"})
  return batch_norm(h, {name = name .. ".bn"})
end

-- relu(bn(conv(relu(bn(conv(h))))) + shortcut(h))
local function basic_block(h, channels, stride, name)
  local out = relu(conv_bn(h, channels, 3, stride, name .. ".a"))
  out = conv_bn(out, channels, 3, 1, name .. ".b")
  local short = h
  if stride ~= 1 or h.shape[2] ~= channels then
    short = conv_bn(h, channels, 1, stride, name .. ".shortcut")
  end
  return relu(out + short)
end

local h = relu(conv_bn(x, 16, 3, 1, "stem"))
for stage, channels in ipairs({16, 32, 64}) do
  for i = 1, blocks do
    local stride = (stage > 1 and i == 1) and 2 or 1
    h = basic_block(h, channels, stride, string.format("layer%d.%d", stage, i - 1))
  end
end
h = flatten(adaptive_avg_pool2d(h, 1))    -- [B,64]
local logits = linear(h, 10, {name = "fc"})

local files = {
  fashion = {
    format = "idx",
    train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz",
              y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
    test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
              y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
    mean = 0.2860, std = 0.3530,
  },
  cifar10 = {
    format = "cifar10",
    train = { x = "data_batch_1.bin,data_batch_2.bin,data_batch_3.bin,data_batch_4.bin,data_batch_5.bin",
              y = "data_batch_1.bin,data_batch_2.bin,data_batch_3.bin,data_batch_4.bin,data_batch_5.bin" },
    test  = { x = "test_batch.bin", y = "test_batch.bin" },
    mean = {0.4914, 0.4822, 0.4465}, std = {0.2470, 0.2435, 0.2616},
  },
}
local data = files[dataset]
data.scale = 1 / 255
data.augment = { crop = { padding = cifar and 4 or 2 }, flip = true }

return {
  loss = cross_entropy(logits, y, {label_smoothing = 0.1}),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = cifar and 200 or 10,
  seed = 1,
  optimizer = {
    name = "sgd", lr = 0.1, momentum = 0.9, weight_decay = 5e-4,
    sam = { rho = 0.05 },
  },
  schedule = { name = "cosine" },
  data = data,
}
