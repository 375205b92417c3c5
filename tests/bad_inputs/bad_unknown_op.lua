-- expect: bad_unknown_op.lua:4: attempt to call a nil value (global 'conv9')
local B = batch_size(128)
local x = input("x", {B, 784})
local h = conv9(x, 16)
return { loss = mean(h), optimizer = { name = "sgd", lr = 0.1 } }
