-- expect: bad_sam_group.lua:6: recipe: optimizer.sam.groups[1].prefix 'conv1.' matches no parameter
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local logits = linear(x, 10, {name = "fc1"})
return {
  loss = cross_entropy(logits, y),
  optimizer = { name = "sgd", lr = 0.1, sam = { rho = 0.05, groups = { {prefix = "conv1.", rho = 0.1} } } },
}
