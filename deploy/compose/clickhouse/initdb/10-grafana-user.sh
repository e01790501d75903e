#!/bin/bash
# Run once by the clickhouse-server image on an empty data directory (docker-entrypoint-initdb.d):
# a read-only user for Grafana's ClickHouse datasource. The `infermeter` user (CLICKHOUSE_USER)
# owns the database; Grafana only ever reads it.
set -euo pipefail
clickhouse client --host 127.0.0.1 --user "$CLICKHOUSE_USER" --password "$CLICKHOUSE_PASSWORD" --multiquery <<SQL
CREATE USER IF NOT EXISTS grafana IDENTIFIED WITH sha256_password BY '${GRAFANA_CLICKHOUSE_PASSWORD}'
    SETTINGS readonly = 2;
GRANT SELECT ON ${CLICKHOUSE_DB}.* TO grafana;
SQL
