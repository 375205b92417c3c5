-- mlp_sam_variants.lua - a small Fashion-MNIST MLP trained with SAM's
-- variants: GSAM on an ASAM ascent (T_w = |w| + eta on *.weight only), rho
-- (and fc1.'s group rho) following the cosine learning rate.
-- tests/aot/sam_variants.sh changes their run-time values with --set in a
-- built trainer.
local B = batch_size(64)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local h = relu(linear(x, 32, {name = "fc1"}))
local logits = linear(h, 10, {name = "fc2"})
local dir = "/usr/share/datasets/fashion-mnist/"
return {
  loss = cross_entropy(logits, y),
  epochs = 1,
  seed = 3,
  optimizer = {
    name = "sgd", lr = 0.05, momentum = 0.9, weight_decay = 5e-4,
    sam = { rho = 0.5, adaptive = true, eta = 0.01, only = "weights",
            groups = { {prefix = "fc1.", rho = 1.0} },
            rho_schedule = { name = "lr", rho_min = 0.1 },
            gsam = { alpha = 0.2 } },
  },
  schedule = { name = "cosine" },
  data = {
    format = "idx",
    train = { x = dir .. "train-images-idx3-ubyte.gz", y = dir .. "train-labels-idx1-ubyte.gz" },
    test  = { x = dir .. "t10k-images-idx3-ubyte.gz",  y = dir .. "t10k-labels-idx1-ubyte.gz" },
    scale = 1 / 255, limit_train = 640, limit_test = 128,
  },
}
