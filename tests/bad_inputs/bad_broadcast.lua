-- expect: bad_broadcast.lua:5: add: shapes [128,784] and [10] cannot be broadcast together
local B = batch_size(128)
local x = input("x", {B, 784})
local b = param("b", {10})
local z = x + b
return { loss = mean(z), optimizer = { name = "sgd", lr = 0.1 } }
