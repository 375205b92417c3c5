-- expect: bad_set_value.lua: --set epochs=three: epochs needs a number, got 'three'
-- args: --set epochs=three
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return { loss = cross_entropy(linear(x, 10), y), optimizer = { name = "sgd", lr = 0.1 } }
