#!/usr/bin/env bash
# Runs the ledger on the embedded default (SQLite in ./var, no services): generates the fictional
# sample data, ingests it, prints a summary, verifies the integrity chain and signs a checkpoint;
# then serves the staff service on that sample ledger (127.0.0.1, development mode: plain HTTP) and
# prints its URL and a first login. Ctrl-C stops the service; the ledger stays in ./var.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
PL=.venv/bin/privacy-ledger
PY=.venv/bin/python

"$PL" demo "$@"

user=demo-officer
password="(set on an earlier run: see that run's output, or add another user with \`$PL users add NAME --role officer\`)"
if ! "$PL" users list | "$PY" -c "import json,sys; sys.exit(0 if any(u['username'] == '$user' for u in json.load(sys.stdin)) else 1)"; then
    password=$("$PL" users add "$user" --role officer | "$PY" -c "import json,sys; print(json.load(sys.stdin)['password'])")
fi
token=$("$PL" tokens create --user "$user" --days 1 | "$PY" -c "import json,sys; print(json.load(sys.stdin)['token'])")
host=${LEDGER_WEB_HOST:-127.0.0.1}
port=${LEDGER_WEB_PORT:-8000}

cat <<EOF

Staff pages on the sample ledger: http://$host:$port/ui/ (sign in with the login below)
The API: http://$host:$port/openapi.json (every route)
First login: user $user, password $password
  (POST http://$host:$port/login; the password is shown once)
API token for that user, valid one day:
  curl -H "Authorization: Bearer $token" "http://$host:$port/api/v1/requests?limit=5"
Ctrl-C stops the service.
EOF
LEDGER_WEB_ALLOW_HTTP=1 exec "$PL" serve
