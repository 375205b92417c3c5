-- expect: bad_syntax.lua:5: ')' expected (to close '(' at line 4) near 'return'
local B = batch_size(128)
local x = input("x", {B, 784})
local h = relu(linear(x, 256)
return { loss = mean(h), optimizer = { name = "sgd", lr = 0.1 } }
