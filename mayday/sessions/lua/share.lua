-- Pause ("1") or resume ("0") screen sharing. ARGV from 8: wanted, the audit entry (JSON).
-- Returns 1 if it changed.
local wanted, entry = ARGV[8], ARGV[9]
live()
if (redis.call("HGET", K.board, "paused") or "0") == wanted then return 0 end
open_board()
redis.call("HSET", K.board, "paused", wanted)
audit(entry)
return 1
