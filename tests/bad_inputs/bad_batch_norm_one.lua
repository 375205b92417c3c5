-- expect: bad_batch_norm_one.lua:4: batch_norm: expected more than 1 value per channel when training, got input [1,784]
local B = batch_size(1)
local x = input("x", {B, 784})
local z = batch_norm(x)
return { loss = mean(z), optimizer = { name = "sgd", lr = 0.1 } }
