-- Try one slot of a counting semaphore held on the server (bound: the lock name); 1 when taken.
SELECT GET_LOCK(%s, 0)
