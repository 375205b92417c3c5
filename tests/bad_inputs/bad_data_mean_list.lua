-- expect: bad_data_mean_list.lua:5: recipe: data.mean must be a list of finite numbers, got string
local B = batch_size(2)
local x = input("x", {B, 3, 4, 4})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return { loss = cross_entropy(linear(flatten(x), 10), y), optimizer = { name = "sgd" },
  data = { format = "npy", train = { x = "x.npy", y = "y.npy" }, mean = {0.5, "0.4", 0.3} } }
