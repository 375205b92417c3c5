-- Oracle model: embedding under SAM around SGD with momentum. Each example
-- is 6 tokens of a 10-word vocabulary (repeats within and across rows, so
-- rows of the weight gather several gradients); the embeddings, flattened,
-- feed a classifier.
local B = batch_size(8)
local tok = input("tok", {B, 6}, {dtype = "i32", classes = 10})
local y = input("y", {B}, {dtype = "i32", classes = 4})
local e = embedding(tok, 10, 5, {name = "emb"})        -- [B,6,5]
local h = tanh(linear(reshape(e, {B, 30}), 16, {name = "fc1"}))
local logits = linear(h, 4, {name = "fc2"})
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 1, seed = 1,
  optimizer = { name = "sgd", lr = 0.05, momentum = 0.9, sam = { rho = 0.05 } },
  -- required by the front end; samc steps reads batches from a file instead
  data = { format = "idx",
           train = { tok = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" },
           test  = { tok = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", y = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" },
           drop_last = true },
}
