-- expect: bad_epochs_huge.lua:5: recipe: epochs must be an integer from 1 to 2147483647, got 4294967297
-- (2^32 + 1 would wrap to 1 epoch in a C int)
local B = batch_size(128)
local x = input("x", {B, 784})
return { loss = mean(x), optimizer = { name = "sgd", lr = 0.1 },
  epochs = 4294967297 }
