-- The server's count of the rows the connection's last SELECT sent: the count of a binary sub-range
-- (one statement, one consistent read), taken by the server and not by the reader that parsed them.
SELECT FOUND_ROWS()
