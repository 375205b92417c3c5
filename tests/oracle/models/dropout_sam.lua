-- Oracle model: dropout under SAM around SGD with momentum and weight
-- decay. samc draws each mask from (seed, step, layer) and reads it in both
-- SAM passes; torch_ref.py recomputes the masks from the documented Philox
-- layout (philox.py) and applies them as ATen's dropout does.
local B = batch_size(7)
local x = input("x", {B, 12})
local y = input("y", {B}, {dtype = "i32", classes = 4})
local h = dropout(relu(linear(x, 16, {name = "fc1"})), 0.3)
h = dropout(tanh(linear(h, 13, {name = "fc2"})), 0.5, {name = "drop2"})  -- 91 values: a partial block
local logits = linear(h, 4, {name = "fc3"})
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 1, seed = 7,
  optimizer = { name = "sgd", lr = 0.05, momentum = 0.9, weight_decay = 5e-4,
                sam = { rho = 0.05 } },
  -- required by the front end; samc steps reads batches from a file instead
  data = { format = "idx",
           train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
           test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
           scale = 1/255, mean = 0.2860, std = 0.3530, drop_last = true },
}
