-- One kind of action for one day (bound: the day), from the transitions in sc_trans.
INSERT INTO {db}.member_action (day, uid, action, from_tier, to_tier, detail)
SELECT %s, uid, {action}, {from_tier}, {to_tier}, {detail} FROM sc_trans WHERE {condition}
