-- expect: bad_set_rho.lua:5: recipe: optimizer.sam.rho must be >= 0, got -1
-- args: --set optimizer.sam.rho=-1
local B = batch_size(128)
local x = input("x", {B, 784})
return { loss = mean(linear(x, 10)), optimizer = { name = "sgd", lr = 0.1 } }
