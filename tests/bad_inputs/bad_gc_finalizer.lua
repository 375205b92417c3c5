-- expect: bad_gc_finalizer.lua:3: setmetatable: __gc finalizers are not available in model files
-- finalizers run with debug hooks off, outside the instruction budget
setmetatable({}, {__gc = function() while true do end end})
return {}
