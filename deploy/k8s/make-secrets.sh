#!/usr/bin/env bash
# make-secrets.sh - write the Secrets Postern's manifests reference, as one
# YAML stream, for `kubectl apply -f`. Nothing here is ever committed: the
# output holds private keys and passwords (deploy/.gitignore ignores the
# default names; keep the output and the certificate directory safe).
#
#   deploy/k8s/make-secrets.sh [options] > secrets.yaml
#
#   --certs DIR             CURVE certificates (default var/k8s-certs, which
#                           git and the Docker context ignore). Made
#                           with `posternctl certs` when missing; existing ones
#                           are reused, so re-running keeps every key.
#   --client NAME[:ROLE]    one more bus client, with its role on the bus
#                           (publisher when not given: a mail backend);
#                           repeatable. Its public key and role
#                           (allow/NAME.role) join the broker's allow-list,
#                           its key pair stays in DIR for you to hand to that
#                           client. `posternctl` (role operator) is always
#                           made, for operators.
#   --pg-dsn-file FILE      libpq DSN for mailstore (managed PostgreSQL),
#                           e.g. "host=db.internal dbname=postern user=postern
#                           password=… sslmode=verify-full"
#   --standalone            for overlays/standalone: generate the PostgreSQL
#                           password, the Secret postern-postgres and a DSN
#                           for the in-cluster postern-postgres
#   --redis-password-file FILE   Redis AUTH password (default: generated -
#                           right for the standalone Redis; give yours for
#                           a managed one)
#   --smtp-user USER  --smtp-password-file FILE   SMTP relay credentials
#                           (default empty: no AUTH)
#   --gateway-api-token-file FILE   bearer token of the gateway's composer
#                           API (default: 256 random bits, hex; hand the
#                           token to your composers from the output)
#   --namespace NS          default postern
#   -o FILE                 write there (mode 0600) instead of stdout
#
# Passwords are read from files, never from arguments, so they do not show
# in `ps` or shell history. Needs: posternctl (make); no kubectl.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
posternctl=${POSTERNCTL:-$root/build/bin/posternctl}
certs=$root/var/k8s-certs
ns=postern
out=
standalone=0
pg_dsn_file=
redis_password_file=
smtp_user=
smtp_password_file=
gateway_api_token_file=
clients=()

die() { echo "make-secrets: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
	case $1 in
	--certs) certs=${2:?}; shift 2 ;;
	--client) c=${2:?}; [[ $c == *:* ]] || c=$c:publisher; clients+=("$c"); shift 2 ;;
	--pg-dsn-file) pg_dsn_file=${2:?}; shift 2 ;;
	--standalone) standalone=1; shift ;;
	--redis-password-file) redis_password_file=${2:?}; shift 2 ;;
	--smtp-user) smtp_user=${2?}; shift 2 ;;
	--smtp-password-file) smtp_password_file=${2:?}; shift 2 ;;
	--gateway-api-token-file) gateway_api_token_file=${2:?}; shift 2 ;;
	--namespace) ns=${2:?}; shift 2 ;;
	-o) out=${2:?}; shift 2 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option $1 (see --help)" ;;
	esac
done
[[ $standalone -eq 1 || -n $pg_dsn_file ]] || die "give --pg-dsn-file FILE (managed PostgreSQL) or --standalone"
[[ $standalone -eq 0 || -z $pg_dsn_file ]] || die "--standalone makes its own DSN; drop --pg-dsn-file"
[[ -x $posternctl ]] || die "$posternctl is missing: run 'make' first (or set POSTERNCTL)"
for f in "$pg_dsn_file" "$redis_password_file" "$smtp_password_file" "$gateway_api_token_file"; do
	[[ -z $f || -r $f ]] || die "cannot read $f"
done

services=(keylookup provision mailstore webui reaper gateway)
mkdir -p "$(dirname "$certs")"
"$posternctl" certs "$certs" "${services[@]}" posternctl "${clients[@]}" >&2 ||
	die "posternctl certs $certs failed"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077

# random - 32 random bytes as 64 hex digits (safe inside a libpq DSN and
# a shell word; 256 bits).
random() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }

# secret NAME --from-file=KEY=PATH... - one Secret manifest, as
# `kubectl create secret generic --dry-run=client -o yaml` writes it (no
# kubectl needed). Keys are file names: [-._a-zA-Z0-9]+.
secret() {
	local name=$1 arg key file; shift
	printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\ntype: Opaque\ndata:\n' "$name" "$ns"
	for arg in "$@"; do
		arg=${arg#--from-file=}
		key=${arg%%=*} file=${arg#*=}
		[[ $key =~ ^[-._a-zA-Z0-9]+$ ]] || die "bad Secret key $key"
		printf '  %s: "%s"\n' "$key" "$(base64 -w0 < "$file")"
	done
}

{
	# Broker and service key pairs; each pod mounts only its own (items:).
	args=(--from-file="broker.cert=$certs/broker.cert" --from-file="broker.cert_secret=$certs/broker.cert_secret")
	for s in "${services[@]}"; do
		args+=(--from-file="$s.cert=$certs/$s.cert" --from-file="$s.cert_secret=$certs/$s.cert_secret")
	done
	secret postern-curve "${args[@]}"

	# The broker's allow-list: public keys only, services and publishers,
	# each with its role (NAME.role; docs/security.md, "Roles on the bus").
	args=()
	for f in "$certs"/allow/*.cert "$certs"/allow/*.role; do
		[[ -f $f ]] && args+=(--from-file="$(basename "$f")=$f")
	done
	secret postern-curve-allow "${args[@]}"

	if [[ $standalone -eq 1 ]]; then
		pgpass=$(random)
		printf '%s' "$pgpass" > "$work/pgpass"
		# In-cluster, inside the namespace's network policy; no TLS.
		printf 'host=postern-postgres port=5432 dbname=postern user=postern password=%s sslmode=disable' \
			"$pgpass" > "$work/dsn"
		secret postern-postgres --from-file="password=$work/pgpass"
		pg_dsn_file=$work/dsn
	fi
	secret postern-pg --from-file="dsn=$pg_dsn_file"

	if [[ -z $redis_password_file ]]; then
		random > "$work/redis"
		redis_password_file=$work/redis
		echo "make-secrets: generated a Redis password (standalone Redis uses it)" >&2
	fi
	secret postern-redis --from-file="password=$redis_password_file"

	printf '%s' "$smtp_user" > "$work/smtp_user"
	[[ -n $smtp_password_file ]] || : > "$work/smtp_password"
	secret postern-smtp --from-file="user=$work/smtp_user" \
		--from-file="password=${smtp_password_file:-$work/smtp_password}"

	# provision's server-side key: 256 random bits, hex.
	random > "$work/provision_key"
	secret postern-provision --from-file="key=$work/provision_key"

	# The gateway's composer API token.
	if [[ -z $gateway_api_token_file ]]; then
		random > "$work/gateway_api_token"
		gateway_api_token_file=$work/gateway_api_token
	fi
	secret postern-gateway --from-file="api-token=$gateway_api_token_file"
} > "$work/out.yaml"

if [[ -n $out ]]; then
	install -m 0600 "$work/out.yaml" "$out"
	echo "make-secrets: wrote $out; apply with: kubectl apply -f $out" >&2
else
	cat "$work/out.yaml"
fi
echo "make-secrets: client key pairs (for publishers, posternctl) stay in $certs - keep it private" >&2
