-- Oracle model: batched matmul (torch.matmul of 3-D operands, transposed
-- batches, a 3-D x 2-D and a 2-D x 3-D product, a batch of 1 that
-- broadcasts) in a small attention-like block under SAM.
local B = batch_size(4)
local x = input("x", {B, 12})
local y = input("y", {B}, {dtype = "i32", classes = 3})
local q = reshape(linear(x, 24, {name = "q"}), {B, 3, 8})
local k = reshape(linear(x, 24, {name = "k"}), {B, 3, 8})
local att = softmax(matmul(q, transpose(k, 1, 2)), -1)     -- [B,3,3]
local v = matmul(att, k)                                   -- [B,3,8]
local p = param("p", {8, 5})
local w = param("w2", {1, 8, 3})
local h = matmul(v, p)                                     -- [B,3,5] (3-D x 2-D)
local h2 = matmul(transpose(v, 1, 2), att)                 -- [B,8,3]
local h3 = matmul(param("m", {2, 8}), h2)                   -- [B,2,3] (2-D x 3-D)
local h4 = matmul(w, transpose(h2, 1, 2))                   -- [B,8,8] ([1,..] broadcast)
local logits = linear(reshape(h, {B, 15}), 3) + linear(reshape(h3, {B, 6}), 3) + linear(reshape(h4, {B, 64}), 3)
return {
  loss = cross_entropy(logits, y),
  epochs = 1, seed = 1,
  optimizer = { name = "sgd", lr = 0.05, momentum = 0.9, sam = { rho = 0.05 } },
  -- required by the front end; samc steps reads batches from a file instead
  data = { format = "idx",
           train = { x = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
           test  = { x = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
           drop_last = true },
}
