-- expect: bad_schedule_key.lua:5: recipe: schedule.gamma does not apply to this schedule (name = "step" only)
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return {
  loss = cross_entropy(linear(x, 10), y),
  optimizer = { name = "sgd", lr = 0.1 },
  schedule = { name = "cosine", gamma = 0.5 },
}
