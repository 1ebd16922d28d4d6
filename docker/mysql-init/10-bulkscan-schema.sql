-- Run once by the mariadb image when its data volume is first initialised (after it has created
-- MARIADB_DATABASE=bulkscan_demo and MARIADB_USER=bulkscan from .env).
-- bulkscan writes its own tables (bulkscan_chunk, bulkscan_result, ...) into the schema `bulkscan`
-- by default (the results_schema param), so its user needs that schema too.
CREATE DATABASE IF NOT EXISTS `bulkscan`;
GRANT ALL PRIVILEGES ON `bulkscan`.* TO 'bulkscan'@'%';
