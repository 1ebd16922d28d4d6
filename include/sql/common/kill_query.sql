-- End the statement a connection is running (the connection stays open), from another connection. Killing
-- a statement of one's own user needs no privilege beyond the connection itself.
KILL QUERY %s
