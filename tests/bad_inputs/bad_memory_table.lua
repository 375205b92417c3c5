-- expect: bad_memory_table.lua:4: memory budget exceeded
local t = {}
for i = 1, 1e12 do
  t[i] = {i, i, i}
end
return {}
