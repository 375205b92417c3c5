-- expect: bad_reshape.lua:4: reshape: cannot reshape [128,784] to [128,100]: element counts differ
local B = batch_size(128)
local x = input("x", {B, 784})
local z = reshape(x, {B, 100})
return { loss = mean(z), optimizer = { name = "sgd", lr = 0.1 } }
