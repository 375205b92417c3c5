-- expect: bad_endless_loop.lua:4: instruction budget exceeded (endless loop?)
local n = 0
while true do
  n = n + 1
end
return {}
