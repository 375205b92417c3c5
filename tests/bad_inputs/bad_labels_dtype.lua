-- expect: bad_labels_dtype.lua:5: cross_entropy: labels must be class indices (an input with dtype = "i32"), got tensor f32[128]
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B})
local loss = cross_entropy(linear(x, 10), y)
return { loss = loss, optimizer = { name = "sgd", lr = 0.1 } }
