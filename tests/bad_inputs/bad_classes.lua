-- expect: bad_classes.lua:5: cross_entropy: labels 'y' have 10 classes but the logits have 12 columns
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local loss = cross_entropy(linear(x, 12), y)
return { loss = loss, optimizer = { name = "sgd", lr = 0.1 } }
