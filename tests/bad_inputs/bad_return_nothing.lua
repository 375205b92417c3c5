-- expect: bad_return_nothing.lua:3: recipe: the model file must return a table {loss = ..., optimizer = ..., ...}, got nil
local B = batch_size(128)
local x = input("x", {B, 784})
