-- expect: bad_accum_batch.lua:5: recipe: batch_size = 8 is not a multiple of optimizer.accumulate = 3 (the 3 micro-batches of a step have batch_size / 3 examples each)
local B = batch_size(8)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return {
  loss = cross_entropy(linear(x, 10), y),
  optimizer = { name = "sgd", lr = 0.1, accumulate = 3 },
}
