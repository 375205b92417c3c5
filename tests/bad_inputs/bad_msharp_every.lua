-- expect: bad_msharp_every.lua:5: recipe: optimizer.sam.m = 4 cannot be combined with optimizer.sam.every = 2 (a step of micro-batches is always a SAM step or always a base step)
local B = batch_size(8)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return {
  loss = cross_entropy(linear(x, 10), y),
  optimizer = { name = "sgd", lr = 0.1, sam = { m = 4, every = 2 } },
}
