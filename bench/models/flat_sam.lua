-- flat_sam.lua - the GPU benchmark's flat model: one weight of 784 x WIDTH
-- (64.2 M parameters at the default WIDTH = 81920) applied to one image per
-- step, loss = mean(h^2). At batch 1 the products are matrix-vector ones
-- that read or write the weight once each, so a SAM step moves a small
-- multiple of the weight's bytes: norm, perturbation and the SGD-momentum
-- update are most of what the step does. bench/gpu.py compares the step's
-- time with the device's copy bandwidth (the bytes an ideal fused SAM
-- optimizer moves: read g, then read w, g2, buf and write w, buf).
local W = arg("width", 81920)
local B = batch_size(arg("batch", 1))
local x = input("x", {B, 784})
local w = param("w", {784, W}, {init = "normal", std = 0.001})
local h = matmul(x, w)
local dir = "/usr/share/datasets/fashion-mnist/"
return {
  loss = mean(h * h),
  epochs = 1, seed = 1,
  optimizer = { name = "sgd", lr = 0.01, momentum = 0.9, sam = { rho = 0.05 } },
  schedule = { name = "constant" },
  data = {
    format = "idx",
    train = { x = dir .. "train-images-idx3-ubyte.gz" },
    scale = 1 / 255, drop_last = true,
  },
}
