-- first_run.lua - what a new user tries, chosen by --arg (tests/e2e/first_run.py):
--   metric=NAME    the accuracy metric's name ("" = no metric at all)
--   test=false     no data.test
--   extra=none|unbound|bound   a declared input the model never reads
-- Data paths are relative: the test passes --data DIR.
local B = batch_size(16)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local extra = arg("extra", "none")
if extra ~= "none" then
  input("z", {B, 784})
end
local logits = linear(x, 10, {name = "fc"})
local metric = arg("metric", "accuracy")
local metrics = {}
if metric ~= "" then
  metrics[metric] = accuracy(logits, y)
end
local train = { x = "train-images.idx.gz", y = "train-labels.idx.gz" }
if extra == "bound" then
  train.z = "train-images.idx.gz"
end
return {
  loss = cross_entropy(logits, y),
  metrics = metrics,
  epochs = 2,
  seed = 3,
  optimizer = { name = "sgd", lr = 0.1, momentum = 0.9 },
  data = {
    format = "idx",
    train = train,
    test = arg("test", true) and { x = "test-images.idx", y = "test-labels.idx" } or nil,
    scale = 1 / 255, mean = 0.5, std = 0.25,
  },
}
