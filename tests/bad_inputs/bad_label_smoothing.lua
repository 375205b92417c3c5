-- expect: bad_label_smoothing.lua:5: cross_entropy: option label_smoothing must be a number in [0, 1], got 1.5
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local loss = cross_entropy(linear(x, 10), y, {label_smoothing = 1.5})
return { loss = loss, optimizer = { name = "sgd", lr = 0.1 } }
