-- expect: bad_pcall_loop.lua:4: instruction budget exceeded (endless loop?)
-- pcall must not be able to swallow the budget error
while true do
  pcall(function() while true do end end)
end
return {}
