-- expect: bad_arg_type.lua:5: linear: argument 2 (out_features) must be a positive integer, got string
local B = batch_size(128)
local x = input("x", {B, 784})
-- out_features quoted by mistake
local h = linear(x, "256")
return { loss = mean(h), optimizer = { name = "sgd", lr = 0.1 } }
