-- expect: bad_reshape.lua:4: reshape
local B = batch_size(128)
local x = input("x", {B, 784})
local z = reshape(x, {B, 100})
return { loss = mean(z), optimizer = { name = "sgd", lr = 0.1 } }
