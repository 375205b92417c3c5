-- expect: bad_memory_string.lua:4: memory budget exceeded
local s = "x"
while true do
  s = s .. s
end
return {}
