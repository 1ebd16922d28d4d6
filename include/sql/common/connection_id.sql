-- This connection's id on the server: what KILL QUERY names (bulkscan.mysqldb.resilient.statement_deadline).
SELECT CONNECTION_ID()
