-- expect: bad_schedule.lua:5: recipe: unknown schedule 'exponential' (known: constant, step, cosine)
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return {
  loss = cross_entropy(linear(x, 10), y),
  optimizer = { name = "sgd", lr = 0.1 },
  schedule = { name = "exponential", gamma = 0.9 },
}
