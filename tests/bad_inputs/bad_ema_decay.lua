-- expect: bad_ema_decay.lua:5: recipe: ema.decay must be in [0, 1], got 1.5
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return {
  loss = cross_entropy(linear(x, 10), y),
  optimizer = { name = "sgd", lr = 0.1 },
  ema = { decay = 1.5 },
}
