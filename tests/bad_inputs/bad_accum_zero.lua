-- expect: bad_accum_zero.lua:5: recipe: optimizer.accumulate must be an integer >= 1, got 0
local B = batch_size(8)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return {
  loss = cross_entropy(linear(x, 10), y),
  optimizer = { name = "sgd", lr = 0.1, accumulate = 0 },
}
