-- Multi-table DELETEs need a default schema.
USE {db}
