-- expect: bad_recipe_batch.lua:5: recipe: batch_size = 64 disagrees with batch_size(128) at line 2
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return {
  loss = cross_entropy(linear(x, 10), y),
  batch_size = 64,
  optimizer = { name = "sgd", lr = 0.1 },
}
