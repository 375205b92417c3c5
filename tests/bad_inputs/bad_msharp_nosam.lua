-- expect: bad_msharp_nosam.lua:5: recipe: unknown recipe key 'optimizer.m' (did you mean 'optimizer.sam'?)
local B = batch_size(8)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return {
  loss = cross_entropy(linear(x, 10), y),
  optimizer = { name = "sgd", lr = 0.1, m = 2 },
}
