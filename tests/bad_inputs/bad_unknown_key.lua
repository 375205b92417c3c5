-- expect: bad_unknown_key.lua:5: recipe: unknown recipe key 'optimiser' (did you mean 'optimizer'?)
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return {
  loss = cross_entropy(linear(x, 10), y),
  optimiser = { name = "sgd", lr = 0.1 },
}
