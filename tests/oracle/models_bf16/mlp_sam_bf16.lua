-- Oracle model, bf16: an MLP 20 -> 24 -> 16 -> 10 under SAM around SGD with
-- momentum and weight decay, with precision = "bf16" (PyTorch side: the
-- forward pass under torch.autocast("cpu", dtype=torch.bfloat16),
-- ref_bf16.py). Every matmul has batch * in * out > 16^3, so PyTorch runs
-- each bf16 GEMM (forward and both backward ones) through oneDNN, which
-- accumulates in f32 and rounds once, as samc; its smaller bf16 GEMMs use
-- ATen's own loops, which round the accumulator to bf16 after each
-- product in some layouts and not in others.
local B = batch_size(32)
local x = input("x", {B, 20})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local h1 = relu(linear(x, 24, {name = "fc1"}))
local h2 = relu(linear(h1, 16, {name = "fc2"}))
local logits = linear(h2, 10, {name = "fc3"})
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 1, seed = 1,
  precision = "bf16",
  optimizer = { name = "sgd", lr = 0.1, momentum = 0.9, weight_decay = 5e-4,
                sam = { rho = 0.05 } },
  -- required by the front end; samc steps reads batches from a file instead
  data = { format = "idx",
           train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
           test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
           scale = 1/255, mean = 0.2860, std = 0.3530, drop_last = true },
}
