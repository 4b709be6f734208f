-- A SELECT-only PostgreSQL role for Grafana's datasource (docs/grafana.md).
-- Run with psql as the owner of the etalon tables (or a superuser), passing:
--   -v role=etalon_grafana -v password=... -v database=etalon -v owner=etalon
-- Tables created later by `owner` (migrations, daily partitions) become readable too; a query on
-- the partitioned `probes` table needs only the privilege on the parent.
CREATE ROLE :"role" LOGIN PASSWORD :'password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
ALTER ROLE :"role" SET default_transaction_read_only = on;
ALTER ROLE :"role" SET statement_timeout = '60s';
GRANT CONNECT ON DATABASE :"database" TO :"role";
GRANT USAGE ON SCHEMA public TO :"role";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO :"role";
