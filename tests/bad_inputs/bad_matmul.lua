-- expect: bad_matmul.lua:7: matmul: [128,784] x [512,10]: inner dimensions differ
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local w = param("w", {512, 10})
-- the weight was meant to be [784, 10]
local logits = matmul(x, w)
return { loss = cross_entropy(logits, y), optimizer = { name = "sgd", lr = 0.1 } }
