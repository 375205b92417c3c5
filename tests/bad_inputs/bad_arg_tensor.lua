-- expect: bad_arg_tensor.lua:4: relu: argument 1 (input) must be a tensor, got string
local B = batch_size(128)
local x = input("x", {B, 784})
local h = relu("x")
return { loss = mean(h), optimizer = { name = "sgd", lr = 0.1 } }
