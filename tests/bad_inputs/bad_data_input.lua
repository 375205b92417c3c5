-- expect: bad_data_input.lua:5: recipe: data.train: 'images' is not an input of the model
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return {
  loss = cross_entropy(linear(x, 10), y),
  optimizer = { name = "sgd", lr = 0.1 },
  data = { format = "idx", train = { images = "train-images-idx3-ubyte.gz", y = "labels.gz" } },
}
