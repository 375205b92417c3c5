-- expect: bad_msharp_gsam.lua:5: recipe: optimizer.sam.m = 2 cannot be combined with optimizer.sam.gsam (GSAM with gradient accumulation, optimizer.accumulate, can)
local B = batch_size(8)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return {
  loss = cross_entropy(linear(x, 10), y),
  optimizer = { name = "sgd", lr = 0.1, sam = { m = 2, gsam = { alpha = 0.1 } } },
}
