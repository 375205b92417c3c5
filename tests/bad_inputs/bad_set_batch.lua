-- expect: bad_set_batch.lua: --set batch_size=0: batch_size needs a positive integer
-- args: --set batch_size=0
local B = batch_size(128)
local x = input("x", {B, 784})
return { loss = mean(x), optimizer = { name = "sgd", lr = 0.1 } }
