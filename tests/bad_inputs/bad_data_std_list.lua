-- expect: bad_data_std_list.lua:5: recipe: data.std must be > 0, got -0.2
local B = batch_size(2)
local x = input("x", {B, 3, 4, 4})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return { loss = cross_entropy(linear(flatten(x), 10), y), optimizer = { name = "sgd" },
  data = { format = "npy", train = { x = "x.npy", y = "y.npy" }, std = {0.5, -0.2, 0.3} } }
