-- expect: bad_tensor_field.lua:4: tensor has no field 'shpe' (fields: shape, dtype, name)
local B = batch_size(128)
local x = input("x", {B, 784})
local n = x.shpe[2]
return {}
