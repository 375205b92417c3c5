-- expect: bad_set_unknown.lua: --set optimiser.lr=0.1: unknown recipe key 'optimiser' (did you mean 'optimizer'?)
-- args: --set optimiser.lr=0.1
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return { loss = cross_entropy(linear(x, 10), y), optimizer = { name = "sgd", lr = 0.1 } }
