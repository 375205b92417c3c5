-- expect: bad_accum_msharp.lua:5: recipe: optimizer.accumulate = 2 and optimizer.sam.m = 2 cannot be combined: give one of them
local B = batch_size(8)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return {
  loss = cross_entropy(linear(x, 10), y),
  optimizer = { name = "sgd", lr = 0.1, accumulate = 2, sam = { m = 2 } },
}
