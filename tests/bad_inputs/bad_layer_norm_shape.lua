-- expect: bad_layer_norm_shape.lua:4: layer_norm: normalized_shape [28,27] must be the trailing dims of the input tensor f32[8,1,28,28]
local B = batch_size(8)
local x = input("x", {B, 1, 28, 28})
local z = layer_norm(x, {28, 27})
return { loss = mean(z), optimizer = { name = "sgd", lr = 0.1 } }
