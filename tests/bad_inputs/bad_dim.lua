-- expect: bad_dim.lua:4: softmax: dim 2 out of range for tensor f32[128,784]
local B = batch_size(128)
local x = input("x", {B, 784})
local z = softmax(x, 2)
return { loss = mean(z), optimizer = { name = "sgd", lr = 0.1 } }
