-- tiny_cifar.lua - a softmax classifier on [3,32,32] images for the
-- end-to-end tests of the CIFAR and .npy readers. Data paths are relative:
-- the tests write small files into a temporary folder and pass it with --data.
local B = batch_size(16)
local x = input("x", {B, 3, 32, 32})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local logits = linear(reshape(x, {B, -1}), 10, {name = "fc"})
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 3,
  seed = 3,
  optimizer = { name = "sgd", lr = 0.01, sam = { rho = 0.05 } },
  data = {
    format = "cifar10",
    train = { x = "data_batch_1.bin, data_batch_2.bin", y = "data_batch_1.bin, data_batch_2.bin" },
    test  = { x = "test_batch.bin", y = "test_batch.bin" },
    scale = 1 / 255, mean = 0.5, std = 0.25,
  },
}
