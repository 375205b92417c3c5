-- expect: bad_metric_loss.lua:6: recipe: metrics: the name 'loss' is reserved: the loss and the metrics file's own keys (loss, kind, epoch, epochs, step, total_steps, lr, samples_per_s, seconds) cannot name a metric
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local logits = linear(x, 10)
local acc = accuracy(logits, y)
return {
  loss = cross_entropy(logits, y),
  metrics = { loss = acc },
  optimizer = { name = "sgd", lr = 0.1 },
}
