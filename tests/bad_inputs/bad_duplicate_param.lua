-- expect: bad_duplicate_param.lua:6: linear: parameter 'fc.weight' already declared at line 5 (every parameter needs its own name)
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local h = relu(linear(x, 256, {name = "fc"}))
local logits = linear(h, 10, {name = "fc"})
return { loss = cross_entropy(logits, y), optimizer = { name = "sgd", lr = 0.1 } }
