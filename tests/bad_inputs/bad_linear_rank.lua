-- expect: bad_linear_rank.lua:4: linear: input must be 2-D [batch, in_features], got tensor f32[128,1,28,28]
local B = batch_size(128)
local x = input("x", {B, 1, 28, 28})
local h = linear(x, 256, {name = "fc1"})
return { loss = mean(h), optimizer = { name = "sgd", lr = 0.1 } }
