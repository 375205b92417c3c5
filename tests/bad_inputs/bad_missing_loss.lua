-- expect: bad_missing_loss.lua:6: recipe: loss is missing
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local logits = linear(x, 10, {name = "fc"})
return {
  metrics = { accuracy = accuracy(logits, y) },
  optimizer = { name = "sgd", lr = 0.1 },
}
