-- expect: bad_log_csv.lua:5: recipe: log.csv must be true or false, got string
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return { loss = cross_entropy(linear(x, 10), y), optimizer = { name = "sgd" }, log = { csv = "yes" } }
