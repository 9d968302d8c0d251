#!/usr/bin/env bash
# Runs once, when the postgres service starts on an empty data volume (the image runs every
# *.sh in /docker-entrypoint-initdb.d): creates the aiops results store next to Airflow's
# metadata database, as its own database owned by its own role, so the pipeline and the KEDA
# scaler never hold Airflow's credentials. To re-run it: `docker compose down -v` (drops data).
#
# AIOPS_DB_USER, AIOPS_DB_PASSWORD and AIOPS_DB_NAME come from docker-compose.yaml (.env);
# psql quotes them (:"ident", :'literal'), so no value can inject SQL.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set=aiops_user="$AIOPS_DB_USER" \
  --set=aiops_password="$AIOPS_DB_PASSWORD" \
  --set=aiops_db="$AIOPS_DB_NAME" <<'SQL'
CREATE ROLE :"aiops_user" LOGIN PASSWORD :'aiops_password';
CREATE DATABASE :"aiops_db" OWNER :"aiops_user";
SQL
